"""A demo origin: renders whatever variant the signed decision header names, and says whether
the signature verified. Shows how little an origin needs: ``verify_token`` and a keyring."""

from __future__ import annotations

import html
import json
import time

from aiohttp import web

from ..core import Keyring, ManifestBook, verify_token
from .plain_pages import add_plain_pages

__all__ = ["client_tag", "make_origin_app"]

KEYRING_KEY = web.AppKey("keyring", Keyring)
MANIFESTS_KEY = web.AppKey("manifests", ManifestBook)
HEADER_KEY = web.AppKey("header", str)
CLIENT_TAG_KEY = web.AppKey("client_tag", str)

PAGES = {
    "/": (
        "Home",
        "hero-headline",
        {"control": "Welcome to the shop", "bold": "Everything you need. Today."},
        "public, max-age=0, s-maxage=60",
    ),
    "/pricing": (
        "Pricing",
        "pricing-layout",
        {"control": "Simple list", "cards": "Three cards", "table": "Comparison table"},
        "public, s-maxage=60",
    ),
    "/checkout/": (
        "Checkout",
        "checkout-button",
        {"control": "Blue 'Pay' button", "green": "Green 'Pay now' button"},
        "no-store",
    ),
}


def client_tag(admin_prefix: str, public_keys: dict[str, object]) -> str:
    """The browser client's script tag, for the page's <head> (blocking, so drift never paints)."""
    keys = f" data-keys='{html.escape(json.dumps(public_keys), quote=True)}'" if public_keys else ""
    return f'<script src="{html.escape(admin_prefix)}/client.js"{keys}></script>'


_BROWSER_LINE = """<p id="browser-check"><small>Your browser's view: waiting for the client script</small></p>
<script>window.edgesplit && window.edgesplit.ready.then(function (es) {
  var line = Object.keys(es.assignments).map(function (k) { return k + "=" + es.assignments[k]; }).join(", ");
  document.getElementById("browser-check").innerHTML = "<small>Your browser's view (" +
    (es.verified ? "signature verified" : "unverified") + "): " + (line || "no experiments") + "</small>";
});</script>"""


def _page(title: str, body: str, head: str = "") -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - edgesplit demo</title>{head}
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}}
nav a{{margin-right:1rem}} .ok{{color:#17803d}} .bad{{color:#b42318}} code{{background:#f3f3f3;padding:0 .2rem}}
.variant{{font-size:1.6rem;margin:1.2rem 0;padding:1rem;border:2px solid #ddd;border-radius:.5rem}}</style></head>
<body><nav><a href="/">Home</a><a href="/pricing">Pricing</a><a href="/checkout/">Checkout</a>
<a href="/__edgesplit/status">Status</a></nav>{body}</body></html>"""


async def _render(request: web.Request) -> web.Response:
    path = (
        request.path
        if request.path in PAGES
        else ("/checkout/" if request.path.startswith("/checkout") else None)
    )
    if path is None:
        return web.Response(status=404, text="not found", headers={"Cache-Control": "public, s-maxage=60"})
    title, experiment, copy, cache_control = PAGES[path]
    token = request.headers.get(request.app[HEADER_KEY])
    result = (
        verify_token(token, request.app[KEYRING_KEY], time.time(), manifests=request.app[MANIFESTS_KEY])
        if token
        else None
    )
    if result is not None and result.ok and result.claims is not None:
        variant = result.claims.assignments.get(experiment, "control")
        status = f'<p class="ok">Decision verified (key <code>{html.escape(result.key_id or "")}</code>).</p>'
    else:
        variant = "control"
        reason = result.reason if result is not None else "no decision header"
        status = f'<p class="bad">No valid decision ({html.escape(str(reason))}): rendering the control.</p>'
    body = (
        f"<h1>{title}</h1>{status}<p>Experiment <code>{experiment}</code>, variant "
        f'<code id="variant">{html.escape(variant)}</code>:</p><div class="variant">'
        f"{html.escape(copy.get(variant, copy['control']))}</div>"
        f"<p><small>Rendered by the origin at {time.strftime('%H:%M:%S')}; a cached copy keeps this time."
        f"</small></p>{_BROWSER_LINE}"
    )
    return web.Response(
        text=_page(title, body, request.app[CLIENT_TAG_KEY]),
        content_type="text/html",
        headers={"Cache-Control": cache_control, "X-Rendered-Variant": variant},
    )


async def _static(request: web.Request) -> web.Response:
    """A page no experiment targets: passes through edgesplit untouched, cached for an hour."""
    return web.Response(
        text="body{font-family:system-ui,sans-serif}\n",
        content_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def make_origin_app(
    keyring: Keyring, decision_header: str, head: str = "", manifests: ManifestBook | None = None
) -> web.Application:
    """``head``: extra markup for every page's <head> (the demo passes ``client_tag(...)``);
    ``manifests``: what names compact decisions (the demo's origin holds the config)."""
    app = web.Application()
    app[KEYRING_KEY] = keyring
    app[MANIFESTS_KEY] = manifests if manifests is not None else ManifestBook()
    app[HEADER_KEY] = decision_header
    app[CLIENT_TAG_KEY] = head
    app.router.add_get("/static/{name}", _static)
    add_plain_pages(app)  # pages tested at the edge only (split URL, HTML changes)
    app.router.add_get("/{tail:.*}", _render)
    return app
