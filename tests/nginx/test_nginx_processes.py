"""`edgesplit decide` as the CLI runs it (its own process, uvloop) behind a real nginx."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
from nginx_stack import NginxProcess, require_nginx, wait_until, write_nginx_conf

from servers import CONFIG, KEYRING_JSON, TestOrigin, start_app, visit

BROWSER = {"User-Agent": "Mozilla/5.0 Firefox/130.0"}


async def test_the_cli_service_decides_counts_outcomes_and_stops_cleanly(tmp_path: Path) -> None:
    binary = require_nginx()
    origin = TestOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "keys.json").write_text(KEYRING_JSON)
    sock = tmp_path / "decide.sock"
    state, conf, port = write_nginx_conf(tmp_path, f"unix:{sock}", origin_port)
    log = (tmp_path / "decide.log").open("w")
    decide = subprocess.Popen(
        [sys.executable, "-m", "edgesplit.cli", "decide", "--config", str(tmp_path / "config.json"),
         "--keys", str(tmp_path / "keys.json"), "--unix-socket", str(sock), "--queue-dir", str(tmp_path / "q"),
         "--epoch-file", str(tmp_path / "epoch.conf"), "--nginx-pid", str(state / "nginx.pid")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    nginx = None
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:

            async def listening() -> bool:
                assert decide.poll() is None, (tmp_path / "decide.log").read_text()
                return sock.exists() and (tmp_path / "epoch.conf").exists()

            await wait_until(listening, "edgesplit decide to listen")
            nginx = NginxProcess(binary, state, conf, port)
            await nginx.ready(client, "/__edgesplit/health")
            base = f"http://127.0.0.1:{port}"
            for _ in range(3):
                resp, body = await visit(client, base + "/page/cli", "cli-visitor-0001", headers=BROWSER)
                assert resp.status == 200 and body["verified"] and body["visitor_id"] == "cli-visitor-0001"

            async def counted() -> bool:
                _, metrics = await visit(client, base + "/__edgesplit/metrics")
                return b'edgesplit_nginx_outcomes_total{result="counted"} 3' in metrics

            await wait_until(counted, "three outcome lines counted")
        decide.send_signal(signal.SIGTERM)
        assert decide.wait(30) == 0
    finally:
        if nginx is not None:
            nginx.stop()
        if decide.poll() is None:
            decide.kill()
            decide.wait()
        log.close()
        await origin_runner.cleanup()
