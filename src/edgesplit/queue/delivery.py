"""Direct delivery off the request path, with the durable queue behind it.

``DeliveryOutbox`` is the pipeline's outbox port. Events wait a few milliseconds to be
batched (``linger_seconds``, or until ``max_buffer_events`` are waiting), then go straight to
every vendor (a short timeout). What fails (network, timeout,
408, 429, 5xx) goes to the vendor's queue shard; what a vendor refuses for good goes to the
dead letters. A per-vendor circuit breaker remembers failures: while it is open, events skip
the direct attempt and go to the queue, and the request path never waits on a vendor known
to be down. Exposures repeated within the dedup window are dropped here, before delivery
(their idempotency keys would collapse them downstream anyway).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ..core.recent import ExposureDeduper
from ..ports import BackgroundPort, Clock, QueuePort
from ..ports.metrics import Metrics
from ..vendors import SendResult, VendorRequest, classify, split_batches

__all__ = ["Breaker", "DeliveryOutbox", "ExposureDeduper", "QueuePort"]

Send = Callable[[VendorRequest], Awaitable[SendResult]]
log = logging.getLogger("edgesplit.delivery")


class Breaker:
    """Closed until a failure; then open for a cool-down that doubles with each further
    failure (capped); after it, one attempt is let through (half-open): success closes it."""

    def __init__(self, cooldown_seconds: float = 5.0, max_cooldown_seconds: float = 120.0) -> None:
        self.cooldown_seconds = cooldown_seconds
        self.max_cooldown_seconds = max_cooldown_seconds
        self.failures = 0
        self.open_until = 0.0

    def allows(self, now: float) -> bool:
        return now >= self.open_until

    def failure(self, now: float) -> None:
        self.failures += 1
        self.open_until = now + min(
            self.max_cooldown_seconds, self.cooldown_seconds * 2 ** (self.failures - 1)
        )

    def success(self) -> None:
        self.failures = 0
        self.open_until = 0.0


class DeliveryOutbox:
    def __init__(
        self,
        adapters: Mapping[str, Any],
        send: Send,
        queue: QueuePort,
        background: BackgroundPort,
        clock: Clock,
        metrics: Metrics,
        *,
        linger_seconds: float = 0.05,
        max_buffer_events: int = 1000,
        breaker_cooldown_seconds: float = 5.0,
        deduper: ExposureDeduper | None = None,
        breakers: dict[str, Breaker] | None = None,
    ) -> None:
        self.adapters = dict(adapters)
        self.send = send
        self.queue = queue
        self.background = background
        self.clock = clock
        self.metrics = metrics
        self.linger_seconds = linger_seconds
        self.max_buffer_events = max_buffer_events
        """A batch this large goes at once, without waiting out the linger (a size bound)."""
        # Breakers and the deduper outlive one request where an isolate builds an outbox per request.
        self.breakers = breakers if breakers is not None else {}
        for name in self.adapters:
            self.breakers.setdefault(name, Breaker(breaker_cooldown_seconds))
        self.deduper = deduper or ExposureDeduper()
        self._buffer: list[dict[str, Any]] = []
        self._flush_scheduled = False

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        fresh = self.deduper.fresh(events)
        self.metrics.inc("edgesplit_exposures_deduplicated_total", len(events) - len(fresh))
        if not fresh:
            return
        self._buffer.extend(fresh)
        if len(self._buffer) >= self.max_buffer_events:
            events, self._buffer = self._buffer, []
            self.background.defer(self.deliver(events))  # the scheduled flush takes what follows
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.background.defer(self._flush())

    async def _flush(self) -> None:
        if self.linger_seconds > 0:
            await asyncio.sleep(self.linger_seconds)
        events, self._buffer, self._flush_scheduled = self._buffer, [], False
        await self.deliver(events)

    async def deliver(self, events: list[dict[str, Any]]) -> None:
        await asyncio.gather(
            *(self._deliver_to(name, adapter, events) for name, adapter in self.adapters.items())
        )

    async def _deliver_to(self, name: str, adapter: Any, events: list[dict[str, Any]]) -> None:
        breaker = self.breakers[name]
        if not breaker.allows(self.clock.now()):
            await self._queue(name, events, "breaker_open")
            return
        by_id = {str(event["id"]): event for event in events}
        split = split_batches(adapter, events)
        if split.too_large:
            await self.queue.dead_letter(
                name, [by_id[event_id] for event_id, _ in split.too_large], split.too_large[0][1]
            )
        for index, request in enumerate(split.requests):
            outcome = classify(await self.send(request))
            batch = [by_id[event_id] for event_id in request.event_ids]
            if outcome.kind == "delivered":
                breaker.success()
                self.metrics.inc("edgesplit_events_delivered_total", len(batch), vendor=name, path="direct")
            elif outcome.kind == "dead":
                await self.queue.dead_letter(name, batch, outcome.reason)
                self.metrics.inc("edgesplit_events_dead_lettered_total", len(batch), vendor=name)
            else:
                breaker.failure(self.clock.now())
                rest = [by_id[event_id] for later in split.requests[index:] for event_id in later.event_ids]
                await self._queue(name, rest, "direct_failed")
                return

    async def _queue(self, name: str, events: list[dict[str, Any]], why: str) -> None:
        try:
            await self.queue.enqueue(name, events)
        except Exception as exc:  # noqa: BLE001 - the queue itself failed (disk full, DO overloaded)
            # Nothing left to keep them in: count and log every one; requests were never affected.
            self.metrics.inc(
                "edgesplit_events_dropped_total", len(events), vendor=name, reason="queue_unavailable"
            )
            log.error("queue unavailable (%r): dropped %d events for %s", exc, len(events), name)
            return
        self.metrics.inc("edgesplit_events_queued_total", len(events), vendor=name, reason=why)
