"""Model memory management: at most one engine at a time; the least recently used one is
stopped when another starts, and restarts by itself at its next call.

    python examples/memory.py [MODEL_FOLDER]               # default: SmolLM2-135M-Instruct
"""
from _default_model import model_folder

import lazyllm

if __name__ == '__main__':
    folder = model_folder()
    lazyllm.config['max_live_models'] = 1
    poet = lazyllm.TrainableModule(folder).prompt('Answer as a poet, in one line.')
    judge = lazyllm.TrainableModule(folder).prompt('Answer yes or no.')
    try:
        print('poet:', poet.start()('What is the sea?', temperature=0, max_tokens=20))
        print('judge:', judge.start()('Is the sea wet?', temperature=0, max_tokens=5))
        print('poet engine running:', poet.status == 'running')     # stopped to make room
        print('poet again:', poet('What is the sky?', temperature=0, max_tokens=20))
        lazyllm.unload(poet)
        print('after unload:', poet.status)
    finally:
        poet.stop()
        judge.stop()
