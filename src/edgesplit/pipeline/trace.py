"""Who gets a decision trace: only a request carrying the admin token in ``x-edgesplit-trace``,
or a browser holding the debug cookie the status page sets (``POST {prefix}/debug``).

The debug cookie is ``<expiry>.<HMAC-SHA256(admin token, "edgesplit-debug:" + expiry)>``: a
different purpose tag from the admin session, so neither cookie can stand in for the other; it
stops working when it expires or the token changes. Both the header and the cookie are removed
before the request goes on, so the origin (and its cache) never sees them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from ..core import Config
from ..core.trace import explain, trace_header_value
from ..ports.http import Headers, ProxyRequest, ProxyResponse
from ..status.access import expiring_value, expiring_value_valid
from .cookies import format_set_cookie
from .decide import Decision

__all__ = [
    "add_trace",
    "DEBUG_COOKIE",
    "DEBUG_SECONDS",
    "TRACE_HEADER",
    "debug_cookie_response",
    "debug_cookie_value",
    "trace_allowed",
]

TRACE_HEADER = "x-edgesplit-trace"
DEBUG_COOKIE = "edgesplit_debug"
DEBUG_SECONDS = 3600


DEBUG_PURPOSE = "edgesplit-debug"


def debug_cookie_value(token: str, now: float) -> str:
    return expiring_value(token, now, DEBUG_PURPOSE, DEBUG_SECONDS)


def trace_allowed(headers: Headers, cookies: Mapping[str, str], admin_token: str | None, now: float) -> bool:
    if not admin_token:
        return False
    presented = headers.get(TRACE_HEADER)
    if presented is not None and hmac.compare_digest(presented.encode(), admin_token.encode()):
        return True
    return expiring_value_valid(cookies.get(DEBUG_COOKIE), admin_token, now, DEBUG_PURPOSE, DEBUG_SECONDS)


async def debug_cookie_response(
    request: ProxyRequest, status_path: str, admin_token: str, now: float, secure: bool
) -> ProxyResponse:
    """The status page's switch: ``trace=on`` sets the cookie for the whole site, ``off`` clears it."""
    body = await request.read_body(1024) if request.read_body is not None else None
    try:
        choice = parse_qs((body or b"").decode("ascii"), max_num_fields=2).get("trace", ["on"])[0]
    except (UnicodeDecodeError, ValueError):
        choice = "on"
    on = choice != "off"
    cookie = format_set_cookie(
        DEBUG_COOKIE,
        debug_cookie_value(admin_token, now) if on else "",
        max_age=DEBUG_SECONDS if on else 0,
        path="/",
        secure=secure,
        http_only=True,
        same_site="Strict",
    )
    return ProxyResponse(
        303,
        Headers(
            [
                ("location", status_path),
                ("set-cookie", cookie),
                ("cache-control", "no-store"),
                ("content-length", "0"),
            ]
        ),
        b"",
    )


def add_trace(
    response: ProxyResponse,
    attributes: Mapping[str, object],
    config: Config,
    decision: Decision,
    cache: str,
) -> None:
    """Set ``x-edgesplit-trace`` on this response only (cached copies were taken before).
    ``cache`` is the cache outcome (HIT, MISS, BYPASS, or none when the cache was not asked)."""
    doc = explain(config, decision.visitor_id or "", attributes, decision.assignments)
    response.headers.set(TRACE_HEADER, trace_header_value(doc, cache))
    response.headers.set("cache-control", "private, no-store")
