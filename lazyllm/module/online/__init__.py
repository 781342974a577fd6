"""Online models: chat, embeddings, rerank, speech and images from API suppliers.

    chat = lazyllm.OnlineChatModule(source='qwen', model='qwen-plus', stream=True)
    emb = lazyllm.OnlineModule(source='qwen', type='embed')
    local = lazyllm.OnlineChatModule(base_url='http://127.0.0.1:8000/v1/')   # any OpenAI URL

Suppliers are rows of a table (:data:`suppliers`, :func:`register_supplier`; a package adds
rows through the entry-point group ``lazyllm.suppliers``, docs/plugins.md); each call type
speaks a wire protocol (:mod:`lazyllm.client.protocols`) through the one
``lazyllm.client``. Keys come from ``api_key=`` or ``LAZYLLM_<SOURCE>_API_KEY`` (see
``_keys``) and never appear in logs, reprs or errors.
"""
from ._base import OnlineBase
from ._chat import OnlineChatModule
from ._embedding import OnlineEmbeddingModule
from ._factory import OnlineModule
from ._multimodal import OnlineMultiModalModule
from ._suppliers import CALL_TYPES, Supplier, get_supplier, register_supplier, suppliers

__all__ = ['OnlineChatModule', 'OnlineEmbeddingModule', 'OnlineMultiModalModule',
           'OnlineModule', 'OnlineBase', 'Supplier', 'register_supplier', 'get_supplier',
           'suppliers', 'CALL_TYPES', 'load_suppliers']


def load_suppliers() -> list[str]:
    """The names of every supplier, plugins' included (loading them adds their
    ``<name>_api_key`` settings, so config.yaml may set those keys)."""
    return suppliers.names()
