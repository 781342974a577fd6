"""Several LoRA adapters on one base in the built-in engine: calls use their weighted mix,
a share picks one adapter, and the base stays reachable by its name.

    python examples/adapters.py BASE_FOLDER NAME=ADAPTER_FOLDER[:WEIGHT] ...
    python examples/adapters.py /models/Qwen2-0.5B sql=/runs/sql-lora:0.7 chat=/runs/chat:0.3

Adapter folders are peft LoRA adapters of the base, e.g. from ``update()`` with
``finetune_method('lora', merge=False)``.
"""
import sys

import lazyllm


def adapters(args: list[str]) -> dict:
    out = {}
    for arg in args:
        name, _, rest = arg.partition('=')
        path, _, weight = rest.rpartition(':') if ':' in rest else (rest, '', '1')
        out[name] = (path, float(weight))
    return out


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    base, chosen = sys.argv[1], adapters(sys.argv[2:])
    m = lazyllm.TrainableModule(base).deploy_method(lazyllm.deploy.transformers,
                                                    adapters=chosen)
    ask = dict(temperature=0, max_tokens=12)
    with m.start():
        print('mix:', repr(m('Hello', **ask)))
        for name in chosen:
            print(f'{name}:', repr(m.share(adapter=name)('Hello', **ask)))
        print('base:', repr(m.share(adapter=m.deployment.served_name)('Hello', **ask)))
