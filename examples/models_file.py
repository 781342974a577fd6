"""A models file (the AutoModel config map format): named entries with engine, dtype and
context length, built with AutoModel or deployed with `lazyllm deploy --config`.

    python examples/models_file.py [MODEL_FOLDER]          # default: SmolLM2-135M-Instruct
"""
import tempfile
from pathlib import Path

from _default_model import model_folder

import lazyllm

if __name__ == '__main__':
    folder = model_folder()
    models = Path(tempfile.mkdtemp()) / 'models.yaml'
    models.write_text(f'''
smol:
  model: {folder}
  engine: transformers
  dtype: float32
  max_context_length: 1024
''')
    print(lazyllm.AutoModel.explain('smol', config=str(models)))
    with lazyllm.AutoModel('smol', config=str(models)).start() as m:
        print('context:', m.max_context_length)
        print('answer:', m('What is the capital of France?', temperature=0, max_tokens=16))
    print(f'from the shell: lazyllm deploy --config {models} smol')
