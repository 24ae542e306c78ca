"""Per-variant caching rules, as pure functions (RFC 9111 for a shared cache, simplified).

- The key is the URL (tracking parameters dropped) plus the variant vector of the experiments
  that apply to it, never the visitor id.
- A response is stored only when the origin allows a shared cache to: GET, a cacheable status,
  explicit freshness (``s-maxage``, ``max-age`` or ``Expires``), and no ``no-store``,
  ``private``, ``no-cache``, ``Set-Cookie`` or ``Vary: *``.
- What reaches the client never lets a downstream shared cache mix variants: a response that
  depends on a variant is marked ``private`` and loses ``s-maxage``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..ports.http import Headers
from .memo import BoundedMemo

__all__ = [
    "cache_key",
    "parse_cache_control",
    "shared_ttl",
    "client_cache_control",
    "CACHEABLE_STATUSES",
    "VARIANT_PARAM",
]

CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
VARIANT_PARAM = "__edgesplit"


_KEYS: BoundedMemo[tuple[str, tuple[tuple[str, str], ...], tuple[str, ...]], str] = BoundedMemo(4096)
"""(URL, vector, ignored parameters) -> key: a hot page's key is worked out once, not per hit."""
_PRIVATE: BoundedMemo[str, str] = BoundedMemo(256)
"""The origin's Cache-Control -> what the client gets for a variant's page ('' : unchanged)."""


def cache_key(url: str, vector: Sequence[tuple[str, str]], ignore_params: Sequence[str] = ()) -> str:
    """``https://shop.example/p?id=1&__edgesplit=hero%3Abold`` for visitors seeing ``hero=bold``.

    A GET URL on the same host, as the Cloudflare Cache API requires of keys. Query parameters
    keep their order; those matching ``ignore_params`` globs (``utm_*``) are dropped, and so is
    any client-sent ``__edgesplit`` parameter.
    """
    memo_key = (url, tuple(vector), tuple(ignore_params))
    key = _KEYS.get(memo_key)
    if key is None:
        key = _cache_key(url, vector, ignore_params)
        _KEYS.put(memo_key, key)
    return key


def _cache_key(url: str, vector: Sequence[tuple[str, str]], ignore_params: Sequence[str]) -> str:
    parts = urlsplit(url)
    params = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key != VARIANT_PARAM and not any(fnmatch.fnmatchcase(key, glob) for glob in ignore_params)
    ]
    if vector:
        params.append((VARIANT_PARAM, ",".join(f"{exp}:{variant}" for exp, variant in sorted(vector))))
    query = urlencode(params, quote_via=quote)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def parse_cache_control(value: str | None) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in (value or "").split(","):
        name, sep, argument = part.strip().partition("=")
        name = name.strip().lower()
        if name and name not in directives:
            directives[name] = argument.strip().strip('"') if sep else None
    return directives


def _seconds(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 10:
        return None
    return int(value)


def shared_ttl(
    method: str, status: int, headers: Headers, now: float, *, has_authorization: bool = False
) -> int | None:
    """Seconds a shared cache may keep this response, or ``None`` when it must not store it."""
    if method != "GET" or status not in CACHEABLE_STATUSES:
        return None
    if headers.get("set-cookie") is not None:
        return None
    if any(v.strip() == "*" for value in headers.get_all("vary") for v in value.split(",")):
        return None
    directives = parse_cache_control(", ".join(headers.get_all("cache-control")))
    if {"no-store", "private", "no-cache"} & directives.keys():
        return None
    if has_authorization and not ({"public", "s-maxage", "must-revalidate"} & directives.keys()):
        return None
    for name in ("s-maxage", "max-age"):
        if name in directives:
            ttl = _seconds(directives[name])
            return ttl if ttl else None
    expires = headers.get("expires")
    if expires is not None:
        try:
            ttl = int(parsedate_to_datetime(expires).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return ttl if ttl > 0 else None
    return None


def client_cache_control(headers: Headers, variant_dependent: bool) -> None:
    """Keep shared caches downstream from storing a variant's page under its bare URL."""
    if not variant_dependent:
        return
    given = ", ".join(headers.get_all("cache-control"))
    private = _PRIVATE.get(given)
    if private is None:
        private = _private_cache_control(given)
        _PRIVATE.put(given, private)
    if private:
        headers.set("cache-control", private)


def _private_cache_control(given: str) -> str:
    directives = parse_cache_control(given)
    if "no-store" in directives:
        return ""
    directives.pop("public", None)
    directives.pop("s-maxage", None)
    directives.pop("proxy-revalidate", None)
    directives = {"private": None, **{k: v for k, v in directives.items() if k != "private"}}
    return ", ".join(k if v is None else f"{k}={v}" for k, v in directives.items())
