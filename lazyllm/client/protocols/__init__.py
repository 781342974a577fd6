"""Wire protocols: the arguments of a model call -> a call on a :mod:`lazyllm.client` client.

Each protocol module turns (messages or inputs, model, params, supplier) into a *call*: a
function of a sync or async client that sends one request and parses the answer. The online
modules and TrainableModule pick a protocol per supplier and call type and never branch on
the supplier themselves.

- :mod:`.openai` -- the OpenAI API (most suppliers, vLLM, lazyllm's own engines);
- :mod:`.anthropic` -- Anthropic's Messages API;
- :mod:`.dashscope` -- Alibaba DashScope's native endpoints (rerank, multimodal embeddings,
  speech, images);
- :mod:`.media` -- images and audio checked and turned into data URLs or file parts.
"""
