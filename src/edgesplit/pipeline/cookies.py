"""Cookie parsing that never fails, and Set-Cookie formatting.

``http.cookies.SimpleCookie`` raises on some real-world headers and silently drops cookies
after a bad pair; a request's cookies are untrusted input, so this parser is total: any
header yields a mapping, junk pairs are skipped, and sizes are bounded.
"""

from __future__ import annotations

import re

__all__ = ["parse_cookie_header", "format_set_cookie", "remove_cookie", "MAX_COOKIE_HEADER"]

MAX_COOKIE_HEADER = 16 * 1024
MAX_COOKIES = 200
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """``"a=1; b=\\"2\\""`` -> ``{"a": "1", "b": "2"}``; the first value of a name wins."""
    cookies: dict[str, str] = {}
    if not header or len(header) > MAX_COOKIE_HEADER:
        return cookies
    for pair in header.split(";")[:MAX_COOKIES]:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.fullmatch(name) or name in cookies:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies[name] = value
    return cookies


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int,
    domain: str | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: str = "Lax",
    path: str = "/",
) -> str:
    parts = [f"{name}={value}", f"Max-Age={max_age}", f"Path={path}"]
    if domain:
        parts.append(f"Domain={domain}")
    if secure or same_site == "None":  # browsers refuse SameSite=None without Secure
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


def remove_cookie(header: str | None, names: set[str]) -> str | None:
    """The Cookie header without the named cookies (``None`` when nothing is left)."""
    if not header:
        return header
    kept = [pair for pair in header.split(";") if pair.partition("=")[0].strip() not in names]
    joined = ";".join(kept).strip()
    return joined or None
