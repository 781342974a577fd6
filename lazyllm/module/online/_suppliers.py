"""The supplier table: one entry per online API, data rather than classes (DESIGN rule 8).

An entry says where the API is, which variable holds its key, which model each kind of call
uses by default, and which wire protocol each kind of call speaks (``openai`` for the
OpenAI-compatible endpoints almost every supplier offers; ``anthropic`` for Claude's
``/v1/messages``; ``dashscope`` for the native Alibaba Cloud endpoints that have no
OpenAI-compatible twin). A new OpenAI-compatible supplier is one ``register_supplier`` call::

    lazyllm.online.register_supplier(lazyllm.online.Supplier(
        'acme', 'https://api.acme.ai/v1/', models={'llm': 'acme-chat'}))

Registering also registers the setting ``<name>_api_key`` (``LAZYLLM_ACME_API_KEY`` or the
config file), read only when a module is built. A package adds a row through the entry-point
group ``lazyllm.suppliers`` (a ``Supplier`` instance), loaded when an unknown source is asked
for or the table is listed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..._config import config
from ..._registry import Registry
from ...errors import InputError
from ...hub import ALIASES, ModelType

__all__ = ['Supplier', 'register_supplier', 'suppliers', 'get_supplier', 'CALL_TYPES',
           'TYPE_ALIASES']

# Every kind of online call: the model types (lazyllm.hub.ModelType) a supplier can offer.
CALL_TYPES = tuple(t.value for t in ModelType if t is not ModelType.CLASSIFY)
TYPE_ALIASES = ALIASES


@dataclass(frozen=True)
class Supplier:
    """One online API. ``models`` maps a call type to its default model; ``protocols`` maps a
    call type to the wire protocol it speaks (a type absent from it is not offered)."""
    name: str
    base_url: str
    models: Mapping[str, str] = field(default_factory=dict)
    protocols: Mapping[str, str] = field(default_factory=lambda: {'llm': 'openai',
                                                                  'vlm': 'openai'})
    embed_batch: int = 64           # most texts one embeddings request may carry
    key_header: str = 'authorization'   # or 'x-api-key' (Anthropic)
    headers: Mapping[str, str] = field(default_factory=dict)   # sent with every request
    chat_defaults: Mapping[str, Any] = field(default_factory=dict)   # e.g. Claude's max_tokens
    stream_usage: bool = True       # ask for usage in streams (stream_options.include_usage)
    streaming: bool = True          # the chat endpoint can stream
    max_images: int = 10            # images one chat request may carry
    signup: str = ''                # where a user gets a key (named in errors)
    key_from: str = ''              # another supplier whose key this one uses (same account)

    @property
    def key_setting(self) -> str:
        return f'{self.key_from or self.name}_api_key'

    @property
    def key_env(self) -> str:
        return f'LAZYLLM_{(self.key_from or self.name).upper()}_API_KEY'

    def protocol(self, type: str) -> str | None:
        return self.protocols.get(type)

    def offers(self, type: str) -> bool:
        return type in self.protocols


def _admit(name: str, supplier: Supplier) -> None:
    """Checks a row before it joins the table, then registers its key setting."""
    if not isinstance(supplier, Supplier):
        raise InputError(f'supplier {name!r} must be a lazyllm.online.Supplier, not '
                         f'{type(supplier).__name__}')
    if not supplier.name.isidentifier() or supplier.name != name:
        raise InputError(f'supplier name {supplier.name!r} must be a lowercase identifier, '
                         f'e.g. "acme"')
    unknown = set(supplier.protocols) - set(CALL_TYPES)
    if unknown:
        raise InputError(f'supplier {name!r} names unknown call types {sorted(unknown)}: use '
                         f'{", ".join(CALL_TYPES)}')
    if not supplier.key_from:
        config.add(supplier.key_setting, '', str, f'API key of {name}', secret=True)


suppliers: Registry[Supplier] = Registry(
    'supplier', 'lazyllm.suppliers', admit=_admit,
    hint=' as source=, or source="openai" with base_url= for any OpenAI-compatible endpoint')


def register_supplier(supplier: Supplier, *, replace: bool = False) -> Supplier:
    """Add ``supplier`` to the table (built-ins and plugins register the same way); a name
    already taken is an InputError unless ``replace=True``."""
    return suppliers.register(supplier, replace=replace)


def get_supplier(name: Any) -> Supplier:
    """The table entry of ``name``; an InputError listing the known ones otherwise."""
    return suppliers.get(name)


def _openai_like(name: str, base_url: str, models: dict, extra: tuple = (), *,
                 vision: bool = True, **kw: Any) -> None:
    chat = ('llm', 'vlm') if vision else ('llm',)
    protocols = {t: 'openai' for t in chat + extra}
    protocols.update(kw.pop('protocols', {}))
    register_supplier(Supplier(name, base_url, models, protocols, **kw))


# -- the built-in suppliers (base URLs and models from each supplier's API reference) ---------
_openai_like('openai', 'https://api.openai.com/v1/',
             {'llm': 'gpt-4o-mini', 'vlm': 'gpt-4o-mini', 'embed': 'text-embedding-3-small',
              'stt': 'whisper-1', 'tts': 'tts-1', 'text2image': 'dall-e-3',
              'image_editing': 'gpt-image-1'},
             # rerank: for OpenAI-compatible servers given by base_url (vLLM, lazyllm engines)
             ('embed', 'stt', 'tts', 'text2image', 'image_editing', 'rerank'),
             embed_batch=2048, signup='https://platform.openai.com/api-keys')
_openai_like('qwen', 'https://dashscope.aliyuncs.com/compatible-mode/v1/',
             {'llm': 'qwen-plus', 'vlm': 'qwen-vl-plus', 'embed': 'text-embedding-v3',
              'rerank': 'gte-rerank-v2', 'stt': 'qwen-audio-turbo',
              'text2image': 'wanx2.1-t2i-turbo', 'cross_modal_embed': 'multimodal-embedding-v1'},
             ('embed',), protocols={'rerank': 'dashscope', 'stt': 'dashscope',
                                    'text2image': 'dashscope', 'cross_modal_embed': 'dashscope'},
             embed_batch=10, signup='https://help.aliyun.com/zh/model-studio/get-api-key')
register_supplier(Supplier(   # Qwen through DashScope's native API, with the qwen key
    'dashscope', 'https://dashscope.aliyuncs.com/api/v1/',
    {'llm': 'qwen-plus', 'rerank': 'gte-rerank-v2', 'stt': 'qwen-audio-turbo',
     'text2image': 'wanx2.1-t2i-turbo', 'cross_modal_embed': 'multimodal-embedding-v1'},
    {t: 'dashscope' for t in ('llm', 'rerank', 'stt', 'text2image', 'cross_modal_embed')},
    key_from='qwen', signup='https://help.aliyun.com/zh/model-studio/get-api-key'))
_openai_like('glm', 'https://open.bigmodel.cn/api/paas/v4/',
             {'llm': 'glm-4-flash', 'vlm': 'glm-4v-flash', 'embed': 'embedding-3',
              'rerank': 'rerank', 'stt': 'glm-asr', 'text2image': 'cogview-3-flash'},
             ('embed', 'rerank', 'stt', 'text2image'),
             embed_batch=64, signup='https://open.bigmodel.cn/usercenter/apikeys')
_openai_like('kimi', 'https://api.moonshot.cn/v1/',
             {'llm': 'moonshot-v1-8k', 'vlm': 'moonshot-v1-8k-vision-preview'},
             signup='https://platform.moonshot.cn/console/api-keys')
_openai_like('deepseek', 'https://api.deepseek.com/v1/', {'llm': 'deepseek-chat'},
             vision=False, signup='https://platform.deepseek.com/api_keys')
_openai_like('doubao', 'https://ark.cn-beijing.volces.com/api/v3/',
             {'llm': 'doubao-1-5-pro-32k-250115', 'vlm': 'doubao-1-5-vision-pro-32k-250115',
              'embed': 'doubao-embedding-text-240715',
              'text2image': 'doubao-seedream-3-0-t2i-250415'},
             ('embed', 'text2image'), embed_batch=256,
             signup='https://console.volcengine.com/ark/region:ark+cn-beijing/apiKey')
_openai_like('siliconflow', 'https://api.siliconflow.cn/v1/',
             {'llm': 'Qwen/Qwen2.5-7B-Instruct', 'vlm': 'Qwen/Qwen2.5-VL-32B-Instruct',
              'embed': 'BAAI/bge-m3', 'rerank': 'BAAI/bge-reranker-v2-m3',
              'stt': 'FunAudioLLM/SenseVoiceSmall', 'tts': 'FunAudioLLM/CosyVoice2-0.5B',
              'text2image': 'Kwai-Kolors/Kolors'},
             ('embed', 'rerank', 'stt', 'tts', 'text2image'), embed_batch=32,
             signup='https://cloud.siliconflow.cn/account/ak')
_openai_like('sensenova', 'https://api.sensenova.cn/compatible-mode/v1/',
             {'llm': 'SenseNova-V6-5-Pro', 'vlm': 'SenseNova-V6-5-Pro',
              'embed': 'nova-embedding-stable'},
             ('embed',), signup='https://console.sensecore.cn/aistudio/management/api-key')
_openai_like('minimax', 'https://api.minimaxi.com/v1/',
             {'llm': 'MiniMax-M1', 'vlm': 'MiniMax-Text-01'},
             signup='https://platform.minimaxi.com/user-center/basic-information/interface-key')
_openai_like('ppio', 'https://api.ppinfra.com/v3/openai/',
             {'llm': 'deepseek/deepseek-v3-0324', 'embed': 'baai/bge-m3',
              'rerank': 'baai/bge-reranker-v2-m3'},
             ('embed', 'rerank'), signup='https://ppio.com/settings/key-management')
register_supplier(Supplier(
    'claude', 'https://api.anthropic.com/v1/',
    {'llm': 'claude-sonnet-4-5', 'vlm': 'claude-sonnet-4-5'},
    {'llm': 'anthropic', 'vlm': 'anthropic'}, key_header='x-api-key',
    headers={'anthropic-version': '2023-06-01'}, chat_defaults={'max_tokens': 4096},
    max_images=100, signup='https://console.anthropic.com/settings/keys'))
