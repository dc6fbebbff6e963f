#!/usr/bin/env bash
# Set everything up on a fresh clone and run the main job: ipinsights demo on the built-in data.
#   bash scripts/demo.sh [ipinsights demo options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ipinsights demo "$@"
