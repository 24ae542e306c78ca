"""The small ports the pipeline is written against. Each shell supplies adapters:

======================  =============================  ====================================
port                    self-hosted proxy              Cloudflare Worker
======================  =============================  ====================================
OriginPort              aiohttp client, streaming      ``fetch`` with the JS stream
CachePort               in-process LRU, teed bodies    ``caches.default`` + ``waitUntil``
OutboxPort              SQLite outbox / HTTP sink      Durable Object queue shards
Clock                   ``time``                       ``time`` (frozen per request)
BackgroundPort          ``asyncio`` tasks              ``ctx.waitUntil``
ObserverPort            counts recorder -> SQLite      counts recorder -> ``Counters`` DO
QueuePort               SQLite queue shards            ``QueueShard`` Durable Objects
SqlPort (``.sql``)      ``sqlite3`` (``SqliteSql``)    ``ctx.storage.sql``
======================  =============================  ====================================

Everything may import this package (docs/architecture.md); it imports only the standard
library. ``StatusSource`` lives beside the data it returns, in ``edgesplit.status.report``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from .http import ProxyRequest, ProxyResponse
from .sql import SqlPort

__all__ = [
    "BackgroundPort",
    "CachePort",
    "Clock",
    "OriginPort",
    "OriginTimeout",
    "OriginUnavailable",
    "OutboxPort",
    "OriginError",
    "ObserverPort",
    "QueuePort",
    "SqlPort",
]


class OriginError(Exception):
    """The origin could not produce a response (adapters translate their own errors to these)."""


class OriginUnavailable(OriginError):
    """Connection refused, reset, DNS failure, malformed response: answered with 502."""


class OriginTimeout(OriginError):
    """No response headers within the timeout: answered with 504."""


class OriginPort(Protocol):
    async def fetch(self, request: ProxyRequest) -> ProxyResponse: ...


class CachePort(Protocol):
    async def lookup(self, key: str, request: ProxyRequest) -> ProxyResponse | None: ...

    def store(
        self,
        key: str,
        request: ProxyRequest,
        response: ProxyResponse,
        ttl: int,
        stored: Callable[[], None] | None = None,
    ) -> ProxyResponse:
        """Arrange for ``response`` to be stored as its body streams by; return what to send.
        ``request`` is there for ``Vary``: the adapter keys entries by the varied headers.
        ``stored`` is called exactly once: when the copy is in the cache, or when it is clear
        it will not be (the body failed or was closed unread, the write failed)."""
        ...


class OutboxPort(Protocol):
    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        """Take events for delivery without blocking the request."""
        ...


class Clock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class ObserverPort(Protocol):
    """Sees every decided request's outcome and every conversion (guardrail counts)."""

    def request_done(self, decision: Any, status: int, latency_seconds: float) -> None: ...

    def conversion(self, event: dict[str, Any]) -> None: ...


class QueuePort(Protocol):
    """The durable queue behind direct delivery: what could not be sent now, and what never will."""

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> None: ...

    async def dead_letter(self, vendor: str, events: list[dict[str, Any]], reason: str) -> None: ...


class BackgroundPort(Protocol):
    def defer(self, work: Awaitable[Any]) -> None:
        """Run ``work`` after the response is on its way, without losing it."""
        ...
