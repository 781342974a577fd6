"""Text classification served by the built-in engine: labels and scores.

    python examples/classify.py MODEL_FOLDER      # a *ForSequenceClassification folder
"""
import sys

import lazyllm

if __name__ == '__main__':
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with lazyllm.TrainableModule(sys.argv[1]).start() as m:
        print('type:', m.type)
        one = m('I love this library')
        print(f"one: {one['label']} ({one['score']:.2f})")
        for text, result in zip(['great', 'terrible', 'fine'], m(['great', 'terrible', 'fine'])):
            print(f'{text}: {result["label"]} {result["scores"]}')
