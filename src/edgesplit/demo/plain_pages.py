"""Demo pages the origin renders the same for everyone: it does not know they are tested.

``/plans`` is split by URL (variant ``v2`` is served ``/plans-v2`` under the same address) and
``/about`` is changed at the edge (variant ``friendly`` rewrites the heading and the button).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["add_plain_pages"]

_PAGES = {
    "/plans": ("Plans", "<h1>Plans</h1><p>Basic, Team and Enterprise, billed monthly.</p>"),
    "/plans-v2": (
        "Plans",
        "<h1>Plans, simplified</h1><p>One plan. Everything included. Cancel any time.</p>",
    ),
    "/about": (
        "About",
        '<h1 class="hero">About the shop</h1><p id="lede">We sell things since 1999.</p>'
        '<a class="cta" href="/pricing">See pricing</a>',
    ),
}


async def _plain(request: web.Request) -> web.Response:
    title, body = _PAGES[request.path]
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - edgesplit demo</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
        ".cta{padding:.4rem .8rem;border:1px solid #888;border-radius:.3rem}"
        ".cta-friendly{background:#17803d;color:#fff}</style></head>"
        f'<body><nav><a href="/">Home</a> <a href="/plans">Plans</a> <a href="/about">About</a></nav>{body}'
        "<p><small>This origin knows nothing about experiments.</small></p></body></html>"
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "public, s-maxage=60"})


def add_plain_pages(app: web.Application) -> None:
    for path in _PAGES:
        app.router.add_get(path, _plain)
