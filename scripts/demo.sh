#!/usr/bin/env bash
# Install Cadenza into .venv and run the demo: a workflow nesting all four patterns, on the
# offline model and a local SQLite file. No API key, no network, no services needed.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/cadenza demo "$@"
