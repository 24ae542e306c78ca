#!/usr/bin/env bash
# Installs what the tests need (scripts/setup.sh), runs the fast gate (scripts/check: format,
# lint, types; seconds) and then the whole suite: CPython unit, property and end-to-end tests,
# and the core again under Pyodide in Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check
exec .venv/bin/python -m pytest "$@"
