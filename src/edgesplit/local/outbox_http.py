"""A simple, in-memory outbox that posts event batches to an HTTP endpoint.

It keeps undelivered events in memory and retries them on the next flush, within a bound; it
does not survive a restart. The durable, sharded queue replaces it where delivery must be
guaranteed (see ``edgesplit.local.queue``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import aiohttp

__all__ = ["HttpBatchOutbox", "MemoryOutbox"]

log = logging.getLogger("edgesplit.outbox")


class MemoryOutbox:
    """Keeps every submitted event in a list (tests, and runs without a vendor)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        self.events.extend(events)


class HttpBatchOutbox:
    def __init__(
        self,
        url: str,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_pending: int = 100_000,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._pending: deque[dict[str, Any]] = deque()
        self.max_pending = max_pending
        self.dropped = 0
        self.delivered = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        self._pending.extend(events)
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:
            for _ in range(overflow):
                self._pending.popleft()
            self.dropped += overflow
            log.warning("outbox full: dropped %d oldest events (%d in all)", overflow, self.dropped)

    def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()

    async def flush(self) -> None:
        while self._pending and self._session is not None:
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            try:
                async with self._session.post(self.url, json={"batch": batch}) as response:
                    if response.status >= 300:
                        raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
                self.delivered += len(batch)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                self._pending.extendleft(reversed(batch))
                log.warning(
                    "vendor delivery failed (%s); %d events kept for the next try",
                    exc,
                    len(self._pending),
                )
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()
        if self._session is not None:
            await self._session.close()
