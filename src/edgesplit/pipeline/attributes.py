"""The request as targeting sees it: attributes computed only when a condition asks for them."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..ports.http import Headers

__all__ = ["RequestAttributes", "device_class"]

_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|(android(?!.*mobile))", re.IGNORECASE)
_MOBILE = re.compile(r"mobi|iphone|ipod|android|blackberry|opera mini|iemobile|windows phone", re.IGNORECASE)
MAX_QUERY_PARAMS = 100


def device_class(user_agent: str) -> str:
    """``mobile``, ``tablet`` or ``desktop`` from a User-Agent (or the ``Sec-CH-UA-Mobile`` hint)."""
    user_agent = user_agent[:1024]
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


class RequestAttributes(Mapping[str, Any]):
    """``path``, ``host``, ``method``, ``country``, ``device``, ``user_agent`` and the nested
    ``query``, ``cookie`` and ``header`` mappings, each worked out on first use."""

    _NAMES = (
        "path",
        "host",
        "method",
        "country",
        "device",
        "user_agent",
        "query",
        "cookie",
        "header",
    )

    def __init__(
        self,
        method: str,
        url: str,
        headers: Headers,
        cookies: Mapping[str, str],
        platform: Mapping[str, Any],
    ) -> None:
        parts = urlsplit(url)
        self._values: dict[str, Any] = {"path": parts.path or "/", "method": method}
        self._query_text = parts.query
        self._host = parts.hostname or ""
        self._headers = headers
        self._cookies = cookies
        self._platform = platform

    def _compute(self, name: str) -> Any:
        if name == "host":
            return (self._headers.get("host") or self._host).split(":")[0].lower()
        if name == "country":
            country = self._platform.get("country") or self._headers.get("cf-ipcountry")
            return country.upper() if isinstance(country, str) else None
        if name == "user_agent":
            return self._headers.get("user-agent", "") or ""
        if name == "device":
            hint = self._headers.get("sec-ch-ua-mobile")
            return "mobile" if hint == "?1" else device_class(self["user_agent"])
        if name == "query":
            query: dict[str, str] = {}
            for key, value in parse_qsl(self._query_text, keep_blank_values=True)[:MAX_QUERY_PARAMS]:
                query.setdefault(key, value)
            return query
        if name == "cookie":
            return dict(self._cookies)
        if name == "header":
            return {name: value for name, value in self._headers.items()}
        raise KeyError(name)

    def __getitem__(self, name: str) -> Any:
        if name in self._values:
            value = self._values[name]
        elif name in self._NAMES:
            value = self._values[name] = self._compute(name)
        else:
            raise KeyError(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)
