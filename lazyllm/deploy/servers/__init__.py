"""The built-in engine servers, each run as its own process:
``python -m lazyllm.deploy.servers KIND --model DIR --host H --port P [options]``."""

# kind -> module with add_arguments(parser) and build_app(args) -> FastAPI
KINDS = {
    'llm': 'lazyllm.deploy.servers.llm',
    'embed': 'lazyllm.deploy.servers.embed',
    'rerank': 'lazyllm.deploy.servers.rerank',
    'stt': 'lazyllm.deploy.servers.stt',
    'classify': 'lazyllm.deploy.servers.classify',
    'vlm': 'lazyllm.deploy.servers.vlm',
}
