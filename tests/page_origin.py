"""An origin that knows nothing about experiments: HTML pages (with and without a
Content-Security-Policy), non-HTML, compressed and oversized bodies, and a second site for
cross-origin rewrites. Shared by the self-hosted, Worker and browser tests of page experiments."""

from __future__ import annotations

import gzip
import html
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from edgesplit.core import parse_config
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import DECISION_HEADER, KEYRING, start_app
from shared_documents import page_config, visitor_in

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}

CACHEABLE = {"Cache-Control": "public, max-age=60"}
HTML = "text/html; charset=utf-8"
NONCE = "r4nd0mN0nce"
CSP = {
    "/landing-nonce": f"default-src 'self'; script-src 'self' 'nonce-{NONCE}'",
    "/landing-strict": "default-src 'self'; img-src *",
    "/landing-inline": "script-src 'self' 'unsafe-inline'",
}


def landing_page(title: str = "Control hero") -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Landing</title></head>'
        f'<body><main><h1 class="hero">{title}</h1>'
        '<p id="lede">Our product, as it has always been.</p>'
        '<button class="cta">Buy now</button><div id="promo">Old promo</div></main></body></html>'
    )


def big_page(size: int) -> str:
    filler = "<p>filler paragraph</p>" * (size // 22 + 1)
    return landing_page().replace("</main>", filler + "</main>")


@dataclass
class PageOrigin:
    __test__ = False
    fetches: Counter[str] = field(default_factory=Counter)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)
    """The headers of the last request per path."""
    documents: dict[str, str] = field(default_factory=dict)
    """Extra pages by path (the shared HTML-rewriting table serves its cases from here)."""

    def _note(self, request: web.Request) -> None:
        self.fetches[request.path] += 1
        self.seen[request.path] = dict(request.headers)

    async def page(self, request: web.Request) -> web.Response:
        self._note(request)
        path = request.path
        if path in self.documents:
            return web.Response(
                body=self.documents[path].encode(), headers={**CACHEABLE, "Content-Type": HTML}
            )
        if path.startswith("/pricing"):
            body = (
                f"<!DOCTYPE html><html><head><title>{path}</title></head><body>"
                f'<h1>Pricing page {html.escape(path)}</h1><p id="query">{html.escape(request.query_string)}</p>'
                f'<p id="decision">{"yes" if DECISION_HEADER in request.headers else "no"}</p></body></html>'
            )
            return web.Response(body=body.encode(), headers={**CACHEABLE, "Content-Type": HTML})
        headers = {**CACHEABLE, "Content-Type": HTML}
        if path in CSP:
            headers["Content-Security-Policy"] = CSP[path]
        if path == "/data.json":
            payload = json.dumps({"html": landing_page()}).encode()
            return web.Response(body=payload, headers={**CACHEABLE, "Content-Type": "application/json"})
        if path == "/gzip":
            return web.Response(
                body=gzip.compress(landing_page().encode()), headers={**headers, "Content-Encoding": "gzip"}
            )
        if path == "/brotli":  # bytes the proxy cannot decode: they must pass untouched
            return web.Response(
                body=b"\x8b\x02\x80<h1 class=hero>", headers={**headers, "Content-Encoding": "br"}
            )
        if path == "/latin1":
            return web.Response(
                body=landing_page("Caf\u00e9").encode("latin-1"),
                headers={**CACHEABLE, "Content-Type": "text/html; charset=iso-8859-1"},
            )
        if path == "/big":
            return web.Response(
                body=big_page(int(request.query.get("size", "8192"))).encode(), headers=headers
            )
        return web.Response(body=landing_page().encode(), headers=headers)

    async def external(self, request: web.Request) -> web.Response:
        """The other site a cross-origin rewrite fetches."""
        self._note(request)
        body = f"<!DOCTYPE html><html><head></head><body><h1>External {html.escape(request.host)}</h1></body></html>"
        return web.Response(body=body.encode(), headers={**CACHEABLE, "Content-Type": HTML})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/external", self.external)
        app.router.add_get("/{tail:.*}", self.page)
        return app


@dataclass
class PageStack:
    origin: PageOrigin
    external: PageOrigin
    external_host: str
    service: ProxyService
    base: str
    client: aiohttp.ClientSession
    config: dict[str, Any]

    async def get(
        self, path: str, visitor: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[aiohttp.ClientResponse, bytes]:
        sent = {**BROWSER, **(headers or {})}
        if visitor is not None:
            sent["Cookie"] = f"edgesplit_id={visitor}" + (
                f"; {sent['Cookie']}" if "Cookie" in (headers or {}) else ""
            )
        async with self.client.get(self.base + path, headers=sent, allow_redirects=False) as response:
            return response, await response.read()

    def visitor_in(self, experiment: str, variant: str, path: str = "/landing") -> str:
        return visitor_in(self.config, experiment, variant, path)


async def page_stack(tmp_path: Path, **pages: Any) -> AsyncIterator[PageStack]:
    """The self-hosted proxy in front of a PageOrigin, with a second PageOrigin as the listed host."""
    origin, external = PageOrigin(), PageOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    external_runner, external_port = await start_app(external.app())
    external_host = f"127.0.0.1:{external_port}"
    config = page_config(external_host, **pages)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}",
        port=0,
        config_path=str(config_path),
        queue_dir=str(tmp_path / "state"),
    )
    service = ProxyService(options, parse_config(config), KEYRING, outbox=MemoryOutbox())
    await service.start()
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
    try:
        yield PageStack(
            origin, external, external_host, service, f"http://127.0.0.1:{service.port}", client, config
        )
    finally:
        await client.close()
        await service.stop()
        await origin_runner.cleanup()
        await external_runner.cleanup()
