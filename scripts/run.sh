#!/usr/bin/env bash
# Install onecycle into ./.venv and run the main job (`onecycle run`) on the bundled
# digits dataset; the report lands in ./onecycle-run/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e .
.venv/bin/onecycle run "$@"
