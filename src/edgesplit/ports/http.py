"""Runtime-neutral HTTP messages for the pipeline: headers, requests and responses.

Bodies are opaque to the pipeline (an async iterator of bytes in the self-hosted proxy, a JS
``ReadableStream`` at the edge): it passes them along and never buffers them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ClosingStream",
    "Headers",
    "ProxyRequest",
    "ProxyResponse",
    "HOP_BY_HOP",
    "plain_response",
    "strip_hop_by_hop",
]

# RFC 9110 section 7.6.1, plus the legacy proxy headers every proxy still strips.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class Headers:
    """An ordered multi-map of header fields with case-insensitive names (stored lower-case)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(name.lower(), value) for name, value in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self._items:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._items if key == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self._items.append((name.lower(), value))

    def remove(self, *names: str) -> None:
        self.discard({name.lower() for name in names})

    def discard(self, doomed: Container[str]) -> None:
        """Remove every field whose (lower-case) name is in ``doomed``."""
        items = self._items
        for key, _ in items:
            if key in doomed:  # copy only when something goes: most calls remove nothing
                self._items = [(key, value) for key, value in items if key not in doomed]
                return

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        copied = Headers()
        copied._items = list(self._items)
        return copied

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def strip_hop_by_hop(headers: Headers) -> None:
    """Remove hop-by-hop fields, including any the Connection header names."""
    named = {token.strip().lower() for value in headers.get_all("connection") for token in value.split(",")}
    named.discard("")
    headers.discard(HOP_BY_HOP | named if named else HOP_BY_HOP)


@dataclass(slots=True)
class ProxyRequest:
    method: str
    url: str
    """Absolute URL as the client asked for it: ``scheme://host[:port]/path?query``."""
    headers: Headers
    body: Any = None
    client_ip: str | None = None
    platform: dict[str, Any] = field(default_factory=dict)
    """What the runtime knows beyond HTTP: ``country``, ``bot_score``, ``verified_bot``..."""
    read_body: Callable[[int], Awaitable[bytes | None]] | None = None
    """For edgesplit's own endpoints: the whole body, or None when larger than the limit."""
    origin_url: str | None = None
    """Fetch this absolute URL instead of the configured origin (a cross-origin rewrite to a
    listed host); ``url`` stays the visitor's address, which the cache key is made from."""

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


@dataclass(slots=True)
class ProxyResponse:
    status: int
    headers: Headers
    body: Any = None
    """bytes, or an opaque stream the shell knows how to send."""


def plain_response(status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> ProxyResponse:
    """A small response edgesplit itself answers with (errors, health, metrics); never cached."""
    body = text.encode("utf-8")
    headers = Headers(
        [("content-type", content_type), ("content-length", str(len(body))), ("cache-control", "no-store")]
    )
    return ProxyResponse(status, headers, body)


class ClosingStream:
    """A streamed body that calls ``on_close`` exactly once: when it ends, fails, or is closed
    unread. Shells ``aclose()`` every body they could not send (the client left), so whatever
    the stream holds (an origin connection, requests waiting for a cached copy) is let go."""

    def __init__(self, body: AsyncIterable[bytes], on_close: Callable[[], None]) -> None:
        self.body = body
        self._on_close: Callable[[], None] | None = on_close

    def _close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.body:
                yield chunk
        finally:
            self._close()

    async def aclose(self) -> None:
        self._close()
        close = getattr(self.body, "aclose", None)
        if close is not None:
            await close()
