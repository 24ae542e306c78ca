"""An origin that knows nothing about experiments: HTML pages (with and without a
Content-Security-Policy), non-HTML, compressed and oversized bodies, and a second site for
cross-origin rewrites. Shared by the self-hosted, Worker and browser tests of page experiments."""

from __future__ import annotations

import gzip
import html
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from servers import DECISION_HEADER

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


def page_config(external_host: str, **pages: Any) -> dict[str, Any]:
    """Experiments the origin does not know about: split URL, redirect, cross-origin rewrite,
    HTML changes (shared origin page), and an origin-rendered experiment to compare with."""
    everyone_b = [{"key": "control", "weight": 0}]
    hero_changes = [
        {"selector": "h1.hero", "action": "set_text", "text": "Variant hero"},
        {"selector": "button.cta", "action": "add_class", "class": "cta-b"},
        {"selector": "#promo", "action": "remove"},
    ]
    return {
        "schema_version": 1,
        "version": "pages-1",
        "experiments": [
            {
                "key": "split",
                "variants": [*everyone_b, {"key": "b", "rewrite": {"path": "/pricing-b"}}],
                "targeting": {"paths": ["/pricing"]},
            },
            {
                "key": "split-noquery",
                "variants": [
                    *everyone_b,
                    {"key": "b", "rewrite": {"path": "/pricing-c", "keep_query": False}},
                ],
                "targeting": {"paths": ["/pricing-nq"]},
            },
            {
                "key": "move",
                "variants": [*everyone_b, {"key": "b", "redirect": {"url": "/pricing-new", "status": 302}}],
                "targeting": {"paths": ["/pricing-old", "/pricing-new"]},
            },
            {
                "key": "far",
                "variants": [
                    *everyone_b,
                    {"key": "b", "rewrite": {"url": f"http://{external_host}/external"}},
                ],
                "targeting": {"paths": ["/far"]},
            },
            {
                "key": "hero",
                "variants": [{"key": "control"}, {"key": "b", "changes": hero_changes}],
                "targeting": {"paths": ["/landing*", "/gzip", "/brotli", "/data.json", "/big", "/latin1"]},
            },
            {
                "key": "rendered",
                "variants": [{"key": "control"}, {"key": "b"}],
                "targeting": {"paths": ["/rendered"]},
            },
        ],
        "pages": {"rewrite_hosts": [external_host], **pages},
        "cache": {"enabled": True},
    }
