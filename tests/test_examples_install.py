"""The install the README and CI use: pyproject's extras carry the version bounds that work,
.ci/install-models.sh installs through them (no version list of its own), and the README
tells a user the same (distribution name, torch's CPU wheel first)."""
import re
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip('tomllib', reason='tomllib is in Python >= 3.11')
from packaging.requirements import Requirement  # noqa: E402
from packaging.version import Version  # noqa: E402

from lazyllm.hub._gguf_llama import NEEDS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
EXTRAS = PROJECT['optional-dependencies']
CI_EXTRAS = ('local', 'stt', 'finetune', 'hub', 'dev')


def reqs(extra: str) -> dict[str, Requirement]:
    """The extra's requirements by name, with the extras it includes expanded."""
    out = {}
    for spec in EXTRAS[extra]:
        req = Requirement(spec)
        if req.name == PROJECT['name']:
            for inner in req.extras:
                out.update(reqs(inner))
        else:
            out[req.name.lower()] = req
    return out


def test_the_distribution_name_and_script():
    assert PROJECT['name'] == 'lazyllm-model-layer'
    assert PROJECT['scripts'] == {'lazyllm': 'lazyllm.cli:main'}


@pytest.mark.parametrize('extra', ['local', 'finetune'])
def test_transformers_is_bounded_to_the_tested_range(extra):
    spec = reqs(extra)['transformers'].specifier
    assert Version('5.19.0') in spec                 # what CI installs and tests
    # FlagEmbedding 1.4.2 imports transformers.modeling_attn_mask_utils, gone by 5.24
    assert Version('5.24.0') not in spec and Version('5.20.0') not in spec
    assert Version('4.57.0') not in spec             # sentence-transformers >= 5 needs 5.x


def test_finetune_carries_what_its_methods_import():
    fin = reqs('finetune')
    assert {'flagembedding', 'peft', 'datasets', 'accelerate', 'sentence-transformers',
            'sentencepiece', 'protobuf'} <= set(fin)
    assert Version('1.4.2') in fin['flagembedding'].specifier
    assert Version('1.5.0') not in fin['flagembedding'].specifier
    assert Version('0.22.0') not in fin['peft'].specifier


def test_local_builds_the_default_model_and_serves():
    local = reqs('local')
    assert {'torch', 'transformers', 'tokenizers', 'safetensors', 'gguf', 'numpy',
            'sentence-transformers', 'fastapi', 'uvicorn', 'orjson', 'xgrammar'} <= set(local)
    assert set(NEEDS) <= set(local)                  # what building smollm2 imports
    assert Version('7.0') not in local['sentence-transformers'].specifier


def test_every_requirement_has_a_lower_bound_or_pin():
    for extra in EXTRAS:
        for name, req in reqs(extra).items():
            assert any(s.operator in ('>=', '==', '~=') for s in req.specifier), (extra, name)


def test_this_venv_is_what_the_extras_give():
    """CI installs through the extras, so every installed version satisfies their bounds."""
    bad = []
    for extra in CI_EXTRAS:
        for name, req in reqs(extra).items():
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue                              # a partial local venv: not checked
            if not req.specifier.contains(version, prereleases=True):
                bad.append(f'{extra}: {req} but {version} is installed')
    assert not bad, bad


def test_ci_installs_through_the_extras():
    script = (ROOT / '.ci' / 'install-models.sh').read_text()
    extras = re.search(r"^EXTRAS='([^']+)'", script, re.M).group(1).split(',')
    assert set(CI_EXTRAS) == set(extras)
    assert '-e "$ROOT[$EXTRAS]"' in script
    # torch's CPU wheel first, then the same pin repeated with the extras
    assert script.index('pip_install "$TORCH"\n') < script.index('-e "$ROOT[$EXTRAS]"')
    # no version list of its own for libraries the extras carry
    for name in ('transformers', 'sentence-transformers', 'peft', 'FlagEmbedding', 'datasets'):
        assert f"'{name}" not in script, name
    run = (ROOT / '.ci' / 'run').read_text()
    assert 'bash .ci/install-models.sh .venv' in run and 'pip install' not in run


def test_the_readme_says_how_to_install():
    readme = (ROOT / 'README.md').read_text()
    install = readme.split('## Install', 1)[1].split('\n## ', 1)[0]
    assert 'lazyllm-model-layer' in install
    assert install.index('torch==2.13.0') < install.index("lazyllm-model-layer[")
    for extra in ('local', 'finetune', 'stt', 'hub', 'vllm'):
        assert f'`{extra}`' in install, extra
    assert 'LazyLLM' in readme and 'do not install both' in readme.lower()
    for page in (readme, (ROOT / 'docs' / 'index.md').read_text()):
        assert 'DESIGN' not in page and '../shared' not in page
    # the fresh-machine line installs through the extras and runs the example, no CI script
    first = re.search(r'```bash\n(.*?)\n```', readme.split('## On a fresh machine', 1)[1],
                      re.S).group(1)
    assert '.ci/' not in first and "pip install -e '.[local]'" in first
    assert first.index('torch==2.13.0') < first.index("'.[local]'")
    assert first.endswith('examples/chat_local.py')
