"""The Worker as wrangler bundles it, run by miniworkerd (Pyodide 0.28.2 in Node 24) in front of
the test origin. Module-scoped: Pyodide takes a few seconds to start."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_support import HERE, ROOT, ServerThread, Worker, node_bin_dir, node_env

from edgesplit.proxy.vendor_sim import VendorSimulator
from servers import CONFIG, KEYRING_JSON, TestOrigin

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="drives Node from CPython")


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


@contextlib.contextmanager
def running_worker(
    dist: Path, tmp: Path, origin: Any, config: dict[str, Any], servers: ServerThread | None = None
) -> Iterator[Worker]:
    """miniworkerd in front of ``origin`` (an object with ``app()``) with ``config``; ``servers``
    may already run other apps the config names (they are stopped with it)."""
    servers = servers or ServerThread()
    vendor = VendorSimulator()
    origin_port = servers.start(origin.app())
    vendor_port = servers.start(vendor.app())
    (tmp / "config.json").write_text(json.dumps(config))
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
        yield Worker(
            f"http://127.0.0.1:{int(line.split()[1])}",
            origin,
            vendor,
            process,
            origin_port,
            f"http://127.0.0.1:{vendor_port}",
        )
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()
        log.close()
        servers.stop()


@pytest.fixture(scope="module")
def worker(dry_run: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    with running_worker(dry_run[0], tmp_path_factory.mktemp("worker"), TestOrigin(), CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def start_worker(dry_run: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``start_worker(origin, config, servers=None)``: a context manager for a Worker of its own."""
    return lambda origin, config, servers=None: running_worker(
        dry_run[0], tmp_path_factory.mktemp("worker"), origin, config, servers
    )
