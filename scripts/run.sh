#!/usr/bin/env bash
# Set up, build the index from corpus/, and answer a question on the bundled defaults (local SmolLM2 via llama.cpp).
# Arguments replace the default question, e.g.: bash scripts/run.sh "Quelle part de Scale AI Meta a-t-elle achetée ?"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- "How many parameters does Llama 3.1 have?"; fi
exec .venv/bin/assistant ask "$@"
