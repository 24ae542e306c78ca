"""What nginx and the decision service say to each other, as pure functions.

nginx's ``auth_request`` subrequest carries the visitor's own headers (cookies, User-Agent...)
plus the original request line in ``X-Edgesplit-Original-*`` headers that nginx sets itself
(``proxy_set_header`` replaces any a client sent). The answer is a ``204`` whose headers nginx
copies into variables with ``auth_request_set``:

=============================  =================================================================
``X-Edgesplit-Vector``         ``hero:bold,shop:a``: the page cache key's variant part ("" none)
``X-Edgesplit-Token``          the signed decision header value for the origin
``X-Edgesplit-Cookie``         the Cookie header for the origin (decision and pin cookies removed)
``X-Edgesplit-Set-Identity``   a Set-Cookie value for the visitor cookie, when it needs setting
``X-Edgesplit-Set-Decision``   a Set-Cookie value for the decision cookie, when it needs setting
``X-Edgesplit-Counted``        the in-experiment assignments, logged back for the guardrails
``X-Accel-Expires``            how long nginx may reuse this answer for an identical subrequest
=============================  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core import Config
from ..pipeline.decide import Decision
from ..pipeline.request_decision import ClientInput
from ..ports.http import Headers, ProxyRequest

__all__ = [
    "DECIDE_PATH",
    "ORIGINAL_HEADERS",
    "answer_headers",
    "cacheable_seconds",
    "counted_value",
    "request_from_nginx",
]

DECIDE_PATH = "/__edgesplit_decide"
"""The service's decision endpoint (nginx's internal location proxies to it)."""
ORIGINAL_METHOD = "x-edgesplit-original-method"
ORIGINAL_URI = "x-edgesplit-original-uri"
ORIGINAL_SCHEME = "x-edgesplit-original-scheme"
CLIENT_IP = "x-edgesplit-client-ip"
ORIGINAL_HEADERS = (ORIGINAL_METHOD, ORIGINAL_URI, ORIGINAL_SCHEME, CLIENT_IP)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_from_nginx(headers: Headers, peer: str | None) -> ProxyRequest:
    """The visitor's request as nginx describes it. A subrequest without nginx's headers (someone
    calling the service directly) is read as a plain GET of ``/`` from that peer."""
    method = (headers.get(ORIGINAL_METHOD) or "GET").upper()
    if method not in _METHODS:
        method = "GET"
    uri = headers.get(ORIGINAL_URI) or "/"
    if not uri.startswith("/"):
        uri = "/"
    scheme = "https" if headers.get(ORIGINAL_SCHEME) == "https" else "http"
    host = headers.get("host") or "localhost"
    client_ip = headers.get(CLIENT_IP) or peer
    visitor = headers.copy()
    visitor.remove(*ORIGINAL_HEADERS, "content-length", "x-edgesplit-vector", "x-edgesplit-counted")
    return ProxyRequest(method, f"{scheme}://{host}{uri}", visitor, None, client_ip)


def counted_value(decision: Decision) -> str:
    """``hero:bold,shop:a``: the assignments the guardrails count (bots and untargeted: "")."""
    return ",".join(
        f"{key}:{a.variant}"
        for key, a in sorted(decision.assignments.items())
        if a.in_experiment and a.variant is not None
    )


def cacheable_seconds(decision: Decision, given: ClientInput, config: Config, limit: int) -> int:
    """How long nginx may answer an identical subrequest with this answer (0: never).

    Only answers that depend on nothing but the subrequest's key are reusable: no cookie to set
    (a new visitor's fresh id must never reach a second browser), and a visitor id that the
    request itself carries (without consent the id is fresh every time). A signed token must stay
    valid for as long as it is reused: at most half its lifetime.
    """
    if limit <= 0 or decision.set_cookie is not None or decision.decision_cookie is not None:
        return 0
    if decision.claims is not None and not decision.bot:
        identity = config.settings.identity
        carried = {given.cookies.get(identity.cookie)}
        if identity.id_header:
            carried.add(given.headers.get(identity.id_header))
        if not decision.visitor_id or decision.visitor_id not in carried:
            return 0
    return min(limit, config.settings.decision.ttl_seconds // 2)


def answer_headers(
    decision: Decision, token: str | None, given: ClientInput, cache_seconds: int
) -> list[tuple[str, str]]:
    vector = ",".join(f"{key}:{variant}" for key, variant in decision.vector)
    answer = [("X-Accel-Expires", str(cache_seconds))]
    if vector:
        answer.append(("X-Edgesplit-Vector", vector))
    if token:
        answer.append(("X-Edgesplit-Token", token))
    cookie = given.headers.get("cookie")
    if cookie:
        answer.append(("X-Edgesplit-Cookie", cookie))
    if decision.set_cookie:
        answer.append(("X-Edgesplit-Set-Identity", decision.set_cookie))
    if decision.decision_cookie:
        answer.append(("X-Edgesplit-Set-Decision", decision.decision_cookie))
    counted = counted_value(decision)
    if counted:
        answer.append(("X-Edgesplit-Counted", counted))
    return answer


def known_assignments(counted: str, config: Config) -> Mapping[str, str]:
    """``hero:bold,shop:a`` from an outcome line, keeping only the config's experiments and
    variants (a stray datagram cannot invent counts)."""
    variants = {e.key: {v.key for v in e.variants} for e in config.experiments}
    pairs: dict[str, str] = {}
    for item in counted.split(",")[:64]:
        key, sep, variant = item.partition(":")
        if sep and variant in variants.get(key, ()):
            pairs[key] = variant
    return pairs
