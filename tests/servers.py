"""Servers the end-to-end tests share: a test origin that verifies and echoes the decision it
receives, on a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from edgesplit.core import Manifest, ManifestBook, parse_config, verify_token
from shared_documents import CONFIG, DECISION_HEADER, KEYRING, KEYRING_JSON  # noqa: F401 - re-exported

# What the test origins know to read compact (es2) decisions: the manifests of the configs the
# tests serve (a real origin fetches them from <admin prefix>/manifest/<id>: tests/integrations).
MANIFESTS = ManifestBook([Manifest.from_config(parse_config(CONFIG))], capacity=1024)


def known(config: Any) -> Any:
    """Let the test origins read decisions made with ``config`` (a parsed Config); returns it."""
    MANIFESTS.add(Manifest.from_config(config))
    return config


@dataclass
class TestOrigin:
    __test__ = False  # a server, not a test class
    fetches: Counter[str] = field(default_factory=Counter)
    release_stream: asyncio.Event = field(default_factory=asyncio.Event)
    last_headers: dict[str, str] = field(default_factory=dict)

    def decision(self, request: web.Request) -> dict[str, Any]:
        token = request.headers.get(DECISION_HEADER)
        result = verify_token(token, KEYRING, time.time(), manifests=MANIFESTS) if token else None
        return {
            "decision_header": token,
            "verified": bool(result and result.ok),
            "assignments": dict(result.claims.assignments) if result and result.claims else {},
            "visitor_id": result.claims.visitor_id if result and result.claims else None,
        }

    async def page(self, request: web.Request) -> web.Response:
        info = self.decision(request)
        self.fetches[request.path] += 1
        if "delay" in request.query:  # a slow render, for the cache stampede test
            await asyncio.sleep(float(request.query["delay"]))
        info["fetch"] = self.fetches[request.path]
        cache_control = {"/private": "private, max-age=60"}.get(
            request.path, "public, max-age=10, s-maxage=60"
        )
        if request.path.startswith("/nocache"):
            cache_control = "no-store"
        headers = {"Cache-Control": cache_control}
        response = web.json_response(info, headers=headers)
        if request.path == "/cookie-page":
            response.set_cookie("origin_session", "abc")
        return response

    async def echo(self, request: web.Request) -> web.Response:
        self.last_headers = dict(request.headers)
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "headers": dict(request.headers),
                "body": body.decode(),
                **self.decision(request),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def fragile(self, request: web.Request) -> web.Response:
        """Breaks for variant 'b' of experiment 'fragile' (a harmful variant for the guardrails)."""
        info = self.decision(request)
        self.fetches[request.path] += 1
        status = 500 if info["assignments"].get("fragile") == "b" else 200
        return web.json_response(info, status=status, headers={"Cache-Control": "no-store"})

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    async def error(self, request: web.Request) -> web.Response:
        self.fetches[request.path] += 1
        return web.Response(status=500, text="origin broke", headers={"Cache-Control": "public, s-maxage=60"})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Cache-Control": "no-store", "Content-Type": "text/plain"})
        await response.prepare(request)
        await response.write(b"first chunk\n")
        await asyncio.wait_for(self.release_stream.wait(), 10)
        await response.write(b"second chunk\n")
        await response.write_eof()
        return response

    async def big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Cache-Control": "public, s-maxage=60"})
        await response.prepare(request)
        for _ in range(80):
            await response.write(b"x" * 65536)  # 5 MiB, above the cache's per-entry limit
        await response.write_eof()
        return response

    async def echo_cached(self, request: web.Request) -> web.Response:
        """A shareable page rendered from what the request carried (the security suites check
        that nothing a client chose gets in: forwarding headers, ignored parameters)."""
        self.fetches[request.path] += 1
        info = {
            **self.decision(request),
            "query": request.raw_path.partition("?")[2],
            "x_forwarded_host": request.headers.get("X-Forwarded-Host"),
            "header_names": sorted({name.lower() for name in request.headers}),
        }
        return web.json_response(info, headers={"Cache-Control": "public, s-maxage=60"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/page/echo/{tail:.*}", self.echo_cached)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/fragile", self.fragile)
        app.router.add_get("/error", self.error)
        app.router.add_get("/stream", self.stream)
        app.router.add_get("/big", self.big)
        app.router.add_get("/{tail:.*}", self.page)
        return app


async def start_app(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001


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


async def visit(
    client: aiohttp.ClientSession, url: str, visitor: str | None = None, **kwargs: Any
) -> tuple[aiohttp.ClientResponse, Any]:
    """One request as one visitor (``visitor`` is the visitor cookie); the body as JSON when it is."""
    headers = dict(kwargs.pop("headers", {}))
    if visitor is not None:
        headers["Cookie"] = f"edgesplit_id={visitor}"
    async with client.request(kwargs.pop("method", "GET"), url, headers=headers, **kwargs) as resp:
        body = await resp.read()
        try:
            return resp, json.loads(body)
        except ValueError:
            return resp, body
