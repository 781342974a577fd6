"""dtype, device, quantization and attention: what runs here is served, what cannot run here
fails before loading, with the reason and the fix.

    python examples/precision.py [MODEL_FOLDER]            # default: SmolLM2-135M-Instruct
"""
from _default_model import model_folder

import lazyllm

if __name__ == '__main__':
    folder = model_folder()
    engine = lazyllm.deploy.transformers
    with lazyllm.TrainableModule(folder).deploy_method(
            engine, dtype='bfloat16', attention='flash_attention_2').start() as m:
        print('bfloat16 answer:', m('What is 2 + 2?', temperature=0, max_tokens=8))
    try:
        lazyllm.TrainableModule(folder).deploy_method(engine, quantization='4bit').start()
    except lazyllm.errors.DeployError as e:
        print('4bit:', str(e).splitlines()[1])
