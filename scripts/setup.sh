#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project with its test tools. Idempotent; safe to re-run.
# llama-cpp-python compiles from source the first time (about 8 minutes on 2 cores); pip caches the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  PY=$(command -v python3.11 || command -v python3)
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
