"""Cache-key hygiene: whatever the origin can see is in the cache key or normalised first.

A bot and a human in the same variant vector share cached pages, so nothing a client sends may
change the page without changing the key. Before a request is decided, cached or forwarded:

- ``Host`` must be a host name, IPv4 or bracketed IPv6 address with an optional port, nothing
  else (a path, ``?``, ``#``, a stray ``[``): otherwise 400;
- the path has its dot segments removed (``/x/../checkout`` is ``/checkout``, also when the
  dots are percent-encoded), so targeting sees the page the origin will serve;
- the query is split on ``&`` and ``;`` (frameworks differ; edgesplit takes both), ignored
  parameters (``cache.ignore_query_params``) and any client ``__edgesplit`` parameter are
  removed, and the rest is forwarded joined by ``&``: the origin receives exactly the query
  the cache key holds;
- the forwarding family (``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP``, URL and method
  override headers) is dropped, and edgesplit sets ``X-Forwarded-For/-Proto/-Host`` itself,
  unless the connection comes from a trusted upstream (``trusted_upstreams``: addresses or
  networks), whose forwarding headers are kept;
- header names with ``_`` that a server mapping ``_`` to ``-`` would read as one of the above
  or as the decision header are dropped.

Bodies on GET/HEAD make the request uncacheable (``flow``): a body is not in the key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from ..core.linear_regex import LinearPattern, compile_linear
from ..ports.http import Headers, ProxyRequest, ProxyResponse, plain_response

__all__ = [
    "FORWARDING_HEADERS",
    "TrustedUpstreams",
    "clean_query",
    "normalize_path",
    "sanitize_request",
    "valid_host",
]

FORWARDING_HEADERS = (
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "forwarded",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "x-original-url",
    "x-rewrite-url",
    "x-original-host",
    "x-host",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "front-end-https",
    "x-url-scheme",
)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
VARIANT_PARAM = "__edgesplit"


def valid_host(host: str) -> bool:
    """``shop.example``, ``127.0.0.1:8080``, ``[::1]:443``; nothing else."""
    if not host or len(host) > 261:
        return False
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return False
        try:
            ipaddress.IPv6Address(host[1:end])
        except ValueError:
            return False
        rest = host[end + 1 :]
        return rest == "" or (rest.startswith(":") and _valid_port(rest[1:]))
    name, sep, port = host.partition(":")
    if sep and not _valid_port(port):
        return False
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    return (
        len(name) <= 253
        and set(name) <= _HOST_CHARS
        and all(0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-" for label in labels)
    )


def _valid_port(port: str) -> bool:
    return 0 < len(port) <= 5 and port.isascii() and port.isdigit() and 0 < int(port) <= 65535


def normalize_path(path: str) -> str:
    """RFC 3986 dot-segment removal, treating ``%2e`` as ``.``; always starts with ``/``."""
    out: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments[1:] if path.startswith("/") else segments):
        last = index == len(segments) - (2 if path.startswith("/") else 1)
        dots = unquote(segment) if "%" in segment else segment
        if dots == ".":
            if last:
                out.append("")
        elif dots == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _glob(pattern: str) -> str:
    return "".join(
        ".*" if c == "*" else "." if c == "?" else f"\\{c}" if not c.isalnum() else c for c in pattern
    )


class _IgnoredParams:
    """The ``ignore_query_params`` globs as one linear-time matcher (cached per tuple)."""

    _cache: dict[tuple[str, ...], LinearPattern | None] = {}

    @classmethod
    def matcher(cls, globs: Sequence[str]) -> LinearPattern | None:
        key = tuple(globs)
        if key not in cls._cache:
            if len(cls._cache) > 16:
                cls._cache.clear()
            cls._cache[key] = compile_linear("|".join(f"(?:{_glob(g)})" for g in key)) if key else None
        return cls._cache[key]


def clean_query(query: str, ignore_params: Sequence[str]) -> str:
    """The query without ignored and ``__edgesplit`` parameters, ``;`` and ``&`` both separators."""
    if not query:
        return ""
    matcher = _IgnoredParams.matcher(ignore_params)
    kept = []
    for part in query.replace(";", "&").split("&"):
        if not part:
            continue
        name = unquote(part.split("=", 1)[0].replace("+", " "))
        if name == VARIANT_PARAM or (matcher is not None and matcher.fullmatch(name)):
            continue
        kept.append(part)
    return "&".join(kept)


class TrustedUpstreams:
    """Peers whose forwarding headers are believed (a load balancer in front of edgesplit)."""

    def __init__(self, networks: Sequence[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, address: str | None) -> bool:
        if not self.networks or not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


_FORWARDING = frozenset(FORWARDING_HEADERS)


def _forwarded_headers(
    headers: Headers, decision_header: str, peer: str | None, scheme: str, host: str, trusted_peer: bool
) -> tuple[Headers, str | None]:
    """The headers to decide on and forward (one pass): underscore aliases of protected names
    dropped, the forwarding family replaced by edgesplit's own unless the peer is trusted; and
    the client's address as far as it is known."""
    protected = _FORWARDING | {decision_header.lower(), "host"}
    kept: list[tuple[str, str]] = []
    chain: list[str] = []
    seen: set[str] = set()
    for name, value in headers:
        if "_" in name and name.replace("_", "-") in protected:
            continue
        if name in _FORWARDING:
            if not trusted_peer:
                continue
            if name == "x-forwarded-for":
                chain.extend(ip.strip() for ip in value.split(",") if ip.strip())
                continue
            seen.add(name)
        kept.append((name, value))
    if peer:
        kept.append(("x-forwarded-for", ", ".join([*chain, peer])))
    if "x-forwarded-proto" not in seen:
        kept.append(("x-forwarded-proto", scheme))
    if "x-forwarded-host" not in seen:
        kept.append(("x-forwarded-host", host))
    return Headers(kept), (chain[-1] if chain else peer)


def sanitize_request(
    request: ProxyRequest,
    ignore_params: Sequence[str],
    decision_header: str,
    trusted: TrustedUpstreams,
) -> ProxyRequest | ProxyResponse:
    """The request as edgesplit will decide on, cache and forward it; or a 400 to answer."""
    host = request.headers.get("host")
    if host is None:
        try:
            host = urlsplit(request.url).netloc
        except ValueError:
            host = ""
    if not valid_host(host):
        return plain_response(400, "400 Bad Request: the Host header must be a host name and port\n")
    try:
        parts = urlsplit(request.url)
    except ValueError:
        return plain_response(400, "400 Bad Request: malformed request target\n")
    headers, client_ip = _forwarded_headers(
        request.headers,
        decision_header,
        request.client_ip,
        parts.scheme,
        host,
        trusted.trusts(request.client_ip),
    )
    query = clean_query(parts.query, ignore_params)
    url = f"{parts.scheme}://{host}{normalize_path(parts.path or '/')}" + (f"?{query}" if query else "")
    return ProxyRequest(
        request.method, url, headers, request.body, client_ip, request.platform, request.read_body
    )
