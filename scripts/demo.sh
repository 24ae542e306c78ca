#!/usr/bin/env bash
# Installs edgesplit into .venv (first run only needs the package registries) and runs the demo:
# a demo origin, a vendor simulator and the proxy on 127.0.0.1. Extra arguments go to
# 'edgesplit demo' (see --help), e.g. --port 9000.
set -euo pipefail
cd "$(dirname "$0")/.."
EDGESPLIT_SKIP_NODE=1 bash scripts/setup.sh
exec .venv/bin/edgesplit demo "$@"
