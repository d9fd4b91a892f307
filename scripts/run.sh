#!/usr/bin/env bash
# Set up, build the index from corpus/, and run the main job on the bundled defaults.
# Any arguments replace the default question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then set -- "How many parameters does Llama 3.1 have?"; fi
exec .venv/bin/assistant retrieve "$@"
