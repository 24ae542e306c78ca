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
StatusSource            SQLite counts + queue shards   ``Counters`` + ``QueueShard`` DOs
======================  =============================  ====================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..status.report import StatusData
from .http import ProxyRequest, ProxyResponse

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
    "StatusSource",
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


class StatusSource(Protocol):
    """Gathers the numbers behind the status page (counts, guardrail state, queue)."""

    async def gather(self, experiments: list[str], now: float) -> StatusData: ...


class BackgroundPort(Protocol):
    def defer(self, work: Awaitable[Any]) -> None:
        """Run ``work`` after the response is on its way, without losing it."""
        ...
