"""The self-hosted proxy in front of an origin that echoes everything it receives (so a test can
see what an attacker managed to pass through) and renders pages a shared cache may keep."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from edgesplit import load_config
from edgesplit.core import verify_token
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import DECISION_HEADER, KEYRING, MANIFESTS, known, start_app

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
BOT = {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}
ADMIN_TOKEN = "security-suite-admin-token-0123456789abcdef"

CONFIG: dict[str, Any] = {
    "schema_version": 1,
    "version": "security-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "hero",
            "variants": [{"key": "control"}, {"key": "bold"}],
            "targeting": {"paths": ["/cache/**", "/echo"]},
        },
        {
            "key": "checkout",
            "variants": [{"key": "one"}, {"key": "two"}],
            "targeting": {"paths": ["/checkout"]},
        },
        {
            "key": "guarded",
            "variants": [{"key": "control"}, {"key": "treat"}],
            "targeting": {"paths": ["/nocache/guarded"]},
            "guardrails": {"min_sample": 100, "metrics": ["conversion"], "alpha": 0.05},
        },
        {
            "key": "banditx",
            "variants": [{"key": "a"}, {"key": "b"}],
            "targeting": {"paths": ["/nocache/bandit"]},
            "bandit": {"update_interval_seconds": 10, "min_weight": 0.05, "max_weight": 0.95},
        },
    ],
}


@dataclass
class EchoOrigin:
    """Renders what it was sent; ``/cache/*`` pages may be shared for a minute."""

    seen: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        token = request.headers.get(DECISION_HEADER)
        verified = verify_token(token, KEYRING, time.time(), manifests=MANIFESTS) if token else None
        body = await request.read()
        record = {
            "method": request.method,
            "path": request.path,
            "query_string": request.raw_path.partition("?")[2],  # as sent, not decoded
            "host": request.headers.get("Host"),
            "x_forwarded_host": request.headers.get("X-Forwarded-Host"),
            "x_forwarded_proto": request.headers.get("X-Forwarded-Proto"),
            "x_forwarded_for": request.headers.get("X-Forwarded-For"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body": body.decode("utf-8", "replace"),
            "decision_header": token,
            "verified": bool(verified and verified.ok),
            "assignments": dict(verified.claims.assignments) if verified and verified.claims else {},
            "visitor_id": verified.claims.visitor_id if verified and verified.claims else None,
        }
        self.seen.append(record)
        cache_control = "no-store" if request.path.startswith("/nocache") else "public, s-maxage=60"
        return web.json_response(record, headers={"Cache-Control": cache_control})

    def app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 32 * 1024})
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


@dataclass
class Proxy:
    origin: EchoOrigin
    service: ProxyService
    outbox: MemoryOutbox
    base: str
    port: int
    client: aiohttp.ClientSession
    config_path: Path

    async def get(
        self, path: str, visitor: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = {**BROWSER, **(headers or {})}
        if visitor is not None:
            all_headers["Cookie"] = f"edgesplit_id={visitor}"
        method = kwargs.pop("method", "GET")
        async with self.client.request(method, self.base + path, headers=all_headers, **kwargs) as resp:
            raw = await resp.read()
            cookies = resp.headers.getall("Set-Cookie", [])
            out = {k.lower(): v for k, v in resp.headers.items()} | {"set-cookie-all": cookies}  # type: ignore[dict-item]
            try:
                return resp.status, out, json.loads(raw)
            except ValueError:
                return resp.status, out, raw

    async def token(self, visitor: str, path: str = "/nocache/guarded") -> str:
        """The decision token a visitor's browser holds after one page view."""
        _, headers, _ = await self.get(path, visitor)
        [cookie] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_decision=")]
        return cookie.split(";")[0].split("=", 1)[1]

    async def track(self, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        async with self.client.post(
            self.base + "/__edgesplit/track",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as resp:
            raw = await resp.read()
            try:
                return resp.status, json.loads(raw)
            except ValueError:
                return resp.status, raw

    async def raw(self, request: bytes, wait: float = 10.0) -> bytes:
        """One request written as bytes; the whole answer (the proxy closes or we stop reading)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(request)
        await writer.drain()
        try:
            data = await asyncio.wait_for(reader.read(1 << 20), wait)
        finally:
            writer.close()
        return data

    def metric(self, name: str, **labels: str) -> float:
        return self.service.metrics.value(name, **labels)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> Any:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


@asynccontextmanager
async def running_proxy(
    tmp_path: Path, config: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[Proxy]:
    origin = EchoOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config or CONFIG))
    outbox = MemoryOutbox()
    proxy_options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}",
        port=0,
        config_path=str(config_path),
        origin_timeout=5.0,
        reload_interval=0.1,
        guardrail_interval=3600.0,  # the tests call tick() themselves
        queue_dir=str(tmp_path / "state"),
        **options,
    )
    service = ProxyService(proxy_options, known(load_config(str(config_path))), KEYRING, outbox=outbox)
    await service.start()
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
    try:
        yield Proxy(
            origin, service, outbox, f"http://127.0.0.1:{service.port}", service.port, client, config_path
        )
    finally:
        await client.close()
        await service.stop()
        await origin_runner.cleanup()
