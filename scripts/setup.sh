#!/usr/bin/env bash
# Installs everything edgesplit's demo and tests need, from the package registries only:
# a virtualenv with edgesplit and its test tools, the npm packages (Pyodide), and the pure-Python
# wheels the Pyodide test run unpacks. Safe to run again; it only fills what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

if [ "${EDGESPLIT_SKIP_NODE:-0}" != "1" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  .venv/bin/python scripts/pyodide_deps.py .cache/pyodide-site
fi
