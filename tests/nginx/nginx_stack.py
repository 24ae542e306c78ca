"""A real nginx (Debian's) on 127.0.0.1 in front of the test origin, with ``edgesplit decide``
answering its auth_request subrequests: the nginx mode under test.

nginx runs in the foreground with its own prefix, pid file, caches and temp dirs inside the
test's tmp dir (``nginx -p DIR -c FILE -e LOG -g 'daemon off;'``), and is stopped with the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from edgesplit import load_config
from edgesplit.nginx.config_render import NginxConfigOptions, render_nginx_config
from edgesplit.nginx.service import DecisionService, NginxOptions
from edgesplit.proxy.service import ProxyOptions
from servers import CONFIG, KEYRING, TestOrigin, start_app, visit

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def require_nginx() -> str:
    if NGINX is None:
        pytest.skip("Debian's nginx is not installed: scripts/setup.sh installs it when run as root")
    return NGINX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(condition: Any, what: str, deadline: float = 30.0) -> None:
    """Poll an async condition with a generous deadline (no fixed sleeps before assertions)."""
    end = time.monotonic() + deadline
    while True:
        if await condition():
            return
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class NginxProcess:
    def __init__(self, binary: str, state: Path, conf: Path, port: int) -> None:
        self.state, self.conf, self.port = state, conf, port
        self.log = (state / "nginx.stderr").open("w")
        self.process = subprocess.Popen(
            [binary, "-p", str(state), "-c", str(conf), "-e", str(state / "error.log"), "-g", "daemon off;"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def error_log(self) -> str:
        path = self.state / "error.log"
        return path.read_text() if path.exists() else ""

    async def ready(self, client: aiohttp.ClientSession, path: str) -> None:
        async def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"nginx exited: {(self.state / 'nginx.stderr').read_text()}{self.error_log()}"
                )
            try:
                async with client.get(f"http://127.0.0.1:{self.port}{path}") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_until(answers, "nginx to answer")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


@dataclass
class NginxStack:
    origin: Any
    service: DecisionService
    outbox: Any
    nginx: NginxProcess
    base: str
    client: aiohttp.ClientSession
    config_path: Path

    async def get(
        self, path: str, visitor: str | None = None, **kwargs: Any
    ) -> tuple[aiohttp.ClientResponse, Any]:
        return await visit(self.client, self.base + path, visitor, **kwargs)


def write_nginx_conf(
    tmp_path: Path, decide: int | str, origin_port: int, *, fail_open: bool = True
) -> tuple[Path, Path, int]:
    state = tmp_path / "nginx"
    state.mkdir(exist_ok=True)
    port = free_port()
    text = render_nginx_config(
        load_config(CONFIG),
        NginxConfigOptions(
            origin=f"http://127.0.0.1:{origin_port}",
            decide=decide if isinstance(decide, str) else f"127.0.0.1:{decide}",
            listen=f"127.0.0.1:{port}",
            state_dir=str(state),
            epoch_file=str(tmp_path / "epoch.conf"),
            fail_open=fail_open,
            decide_timeout_ms=10_000,  # the service shares the test's event loop on a busy machine
            user="root",
            workers="1",
        ),
    )
    conf = state / "nginx.conf"
    conf.write_text(text)
    return state, conf, port


def decision_service(
    tmp_path: Path, outbox: Any, unix_socket: str | None = None, **proxy: Any
) -> DecisionService:
    config_path = tmp_path / "config.json"
    if not config_path.exists():
        config_path.write_text(json.dumps(CONFIG))
    options = ProxyOptions(
        origin="",
        port=0,
        config_path=str(config_path),
        reload_interval=0.1,
        queue_dir=str(tmp_path / "state"),
        **proxy,
    )
    nginx = NginxOptions(
        epoch_file=str(tmp_path / "epoch.conf"),
        nginx_pid_file=str(tmp_path / "nginx" / "nginx.pid"),
        decision_cache_seconds=120,  # longer than any wait in the tests: a stale answer shows
        unix_socket=unix_socket,
    )
    return DecisionService(options, nginx, load_config(str(config_path)), KEYRING, outbox=outbox)


@contextlib.asynccontextmanager
async def open_stack(
    tmp_path: Path, outbox: Any, *, unix: bool = False, **proxy: Any
) -> AsyncIterator[NginxStack]:
    """The test origin, the decision service and nginx, started in that order, stopped in reverse."""
    binary = require_nginx()
    origin = TestOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    unix_socket = str(tmp_path / "decide.sock") if unix else None
    service = decision_service(tmp_path, outbox, unix_socket, **proxy)
    await service.start()
    decide = f"unix:{unix_socket}" if unix_socket else service.port
    state, conf, port = write_nginx_conf(tmp_path, decide, origin_port)
    nginx = NginxProcess(binary, state, conf, port)
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
    try:
        await nginx.ready(client, "/__edgesplit/health")
        yield NginxStack(
            origin,
            service,
            service.outbox,
            nginx,
            f"http://127.0.0.1:{port}",
            client,
            tmp_path / "config.json",
        )
    finally:
        await client.close()
        nginx.stop()
        await service.stop()
        await origin_runner.cleanup()
