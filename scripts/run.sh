#!/usr/bin/env bash
# Set up, build the index from corpus/, load the default reader (Qwen2.5-Coder-1.5B via llama.cpp) and serve the web UI on
# http://127.0.0.1:7860 (Ctrl+C stops it). With arguments, answer that question in the terminal instead, e.g.:
#   bash scripts/run.sh "Quelle part de Scale AI Meta a-t-elle achetée ?"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then exec .venv/bin/assistant serve; fi
exec .venv/bin/assistant ask "$@"
