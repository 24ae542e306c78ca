"""Helpers for the Worker tests: Node 24, the server thread, and the running miniworkerd."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgesplit.proxy.vendor_sim import VendorSimulator
from servers import ServerThread, TestOrigin  # noqa: F401 - ServerThread is re-exported
from venv_node import venv_node

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def node_bin_dir() -> str:
    return str(venv_node().parent)


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


def py(worker: Worker, code: str) -> Any:
    """Run code in the Worker's interpreter; the last expression is the result."""
    return worker.control("python", "POST", code).get("result")


@contextmanager
def patched(worker: Worker, target: str, replacement: str) -> Iterator[None]:
    """Swap a function inside the Worker's interpreter (a stand-in for a bug in edgesplit)."""
    module, name = target.rsplit(".", 1)
    py(
        worker,
        f"import {module} as m\nm._saved_{name} = m.{name}\n{replacement}\nm.{name} = replacement\n'ok'",
    )
    try:
        yield
    finally:
        py(worker, f"import {module} as m\nm.{name} = m._saved_{name}\n'ok'")


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_config(worker: Worker, version: str, timeout: float = 30.0) -> None:
    """Until the isolate serves config ``version`` (it re-reads KV after its TTL)."""
    assert wait_until(
        lambda: get(worker, "/__edgesplit/health")[2].get("config_version") == version, timeout
    ), f"the Worker never picked up config {version!r}"


def get(
    worker: Worker,
    path: str,
    visitor: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> tuple[int, dict[str, Any], Any]:
    all_headers = {**BROWSER, **(headers or {})}
    if visitor is not None:
        all_headers["Cookie"] = f"edgesplit_id={visitor}"
    request = urllib.request.Request(worker.base + path, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, response_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, response_headers, raw = error.code, error.headers, error.read()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw
    return (
        status,
        {k.lower(): v for k, v in response_headers.items()}
        | {"set-cookie-all": response_headers.get_all("Set-Cookie") or []},
        body,
    )
