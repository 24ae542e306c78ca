"""Against the real Cloudflare runtime: `wrangler dev` (workerd + Python) on a free port.

workerd downloads its Pyodide bundle from Cloudflare on first start, so this needs internet.
Where the runtime cannot start (no network, as on our CI machines), the test skips and says
why; anyone with internet runs it with the same command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from edge_support import ROOT, node_env

from servers import CONFIG, KEYRING_JSON

START_TIMEOUT = float(os.environ.get("EDGESPLIT_WRANGLER_DEV_TIMEOUT", "90"))
CANNOT_START = re.compile(
    r"DNS lookup failed|ENOTFOUND|EAI_AGAIN|getaddrinfo|pyodide-capnp-bin|fetch failed|"
    r"Failed to (download|fetch)|unable to get local issuer",
    re.IGNORECASE,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def wrangler_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("wrangler-dev")
    (tmp / ".dev.vars").write_text(
        f"EDGESPLIT_KEYS={json.dumps(KEYRING_JSON)}\nEDGESPLIT_CONFIG_JSON={json.dumps(json.dumps(CONFIG))}\n"
    )
    port = free_port()
    npx = shutil.which("npx", path=node_env()["PATH"]) or "npx"
    log = (tmp / "wrangler.log").open("w")
    process = subprocess.Popen(
        [
            npx,
            "wrangler",
            "dev",
            "--port",
            str(port),
            "--ip",
            "127.0.0.1",
            "--env-file",
            str(tmp / ".dev.vars"),
        ],
        cwd=ROOT,
        env=node_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            output = (tmp / "wrangler.log").read_text(errors="replace")
            if CANNOT_START.search(output) or process.poll() is not None:
                lines = output.splitlines()
                reason = next((ln for ln in lines if "Pyodide bundle" in ln), None) or next(
                    (ln for ln in lines if CANNOT_START.search(ln)), output[-300:]
                )
                pytest.skip(
                    "the Cloudflare Python runtime cannot start here (workerd fetches its Pyodide "
                    f"bundle from Cloudflare at start-up): {reason.strip()[:300]}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/__edgesplit/health", timeout=5
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.skip(f"wrangler dev did not answer within {START_TIMEOUT:.0f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_health_answers_with_the_config_version(wrangler_dev: str) -> None:
    with urllib.request.urlopen(f"{wrangler_dev}/__edgesplit/health", timeout=10) as response:
        assert json.loads(response.read())["config_version"] == CONFIG["version"]


def test_a_new_visitor_gets_a_cookie(wrangler_dev: str) -> None:
    request = urllib.request.Request(f"{wrangler_dev}/page/home", headers={"User-Agent": "Mozilla/5.0"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            headers = response.headers
    except urllib.error.HTTPError as error:  # no origin behind wrangler dev: 502 is fine here
        headers = error.headers
    assert (headers.get("Set-Cookie") or "").startswith("edgesplit_id=")
