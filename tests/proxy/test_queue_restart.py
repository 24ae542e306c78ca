"""The self-hosted proxy killed with SIGKILL while draining, then restarted: nothing is lost."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from serve_processes import free_port, queue_depth, serve_command

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.core.events import exposure_event
from edgesplit.proxy.vendor_sim import VendorSimulator
from servers import CONFIG, KEYRING_JSON, ServerThread, TestOrigin

CONFIG_OBJ = load_config(CONFIG)


def http(url: str, data: dict | None = None, headers: dict | None = None) -> bytes:
    request = urllib.request.Request(
        url,
        data=json.dumps(data).encode() if data is not None else None,
        headers=headers or {},
        method="POST" if data is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def wait_until(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def start_proxy(port: int, origin: int, vendor: int, tmp: Path) -> subprocess.Popen[str]:
    with (tmp / f"proxy-{time.monotonic_ns()}.log").open("w") as log:  # the child keeps its own copy
        process = _spawn(port, origin, vendor, tmp, log)
    wait_until(lambda: _healthy(port), 20)
    return process


def _spawn(port: int, origin: int, vendor: int, tmp: Path, log) -> subprocess.Popen[str]:  # noqa: ANN001
    return subprocess.Popen(
        serve_command(
            tmp,
            f"http://127.0.0.1:{origin}",
            port,
            *("--vendor-url", f"http://127.0.0.1:{vendor}/batch", "--queue-shards", "2"),
        ),
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )


def _healthy(port: int) -> bool:
    try:
        return b'"ok"' in http(f"http://127.0.0.1:{port}/__edgesplit/health")
    except OSError:
        return False


def test_sigkill_while_draining_then_restart_loses_nothing(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "keys.json").write_text(KEYRING_JSON)
    servers = ServerThread()
    vendor = VendorSimulator()
    origin_port = servers.start(TestOrigin().app())
    vendor_port = servers.start(vendor.app())
    port = free_port()
    proxy = start_proxy(port, origin_port, vendor_port, tmp_path)
    try:
        vendor.mode = "down"
        want: set[str] = set()
        for n in range(40):
            visitor, path = f"killed-{n:04d}", f"/page/shop-{n % 3}"
            http(
                f"http://127.0.0.1:{port}{path}",
                headers={"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"},
            )
            want |= {
                exposure_event(visitor, k, a.variant, CONFIG_OBJ.version, time.time(), 1800)["id"]
                for k, a in assign(CONFIG_OBJ, visitor, {"path": path}).items()
                if a.in_experiment and a.variant
            }
        wait_until(lambda: queue_depth(tmp_path) == len(want))
        vendor.mode, vendor.delay = "slow", 1.5  # the next drain hangs in the vendor's hands...
        wait_until(lambda: vendor.requests["slow"] >= 1)
        proxy.send_signal(signal.SIGKILL)  # ...and the proxy dies mid-drain
        proxy.wait(10)
        assert queue_depth(tmp_path) == len(want)  # nothing was acknowledged, nothing lost
        vendor.mode = "healthy"
        proxy = start_proxy(port, origin_port, vendor_port, tmp_path)  # resumes the persisted alarms
        wait_until(lambda: want <= set(vendor.events))
        assert set(vendor.events) == want  # every event, once each after dedup by idempotency key
        wait_until(lambda: queue_depth(tmp_path) == 0)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(15)
        servers.stop()
