"""The self-hosted proxy's durable queue: SQLite shards (WAL) drained by timers it persists.

Each shard is its own SQLite file with its own timer, so one hot or stuck shard cannot stall
the others. A shard's next alarm time is stored in the shard, so a restarted proxy resumes
pending drains. The statements are the Durable Object's (``edgesplit.queue.store``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from ..pipeline import Clock, Metrics
from ..queue.drain import DrainPolicy, drain_shard
from ..queue.sharding import shard_for
from ..queue.store import QueueStore
from ..sqlite_sql import SqliteSql
from ..vendors import SendResult, VendorRequest, retry_after_seconds

__all__ = ["AiohttpSender", "LocalQueue"]

log = logging.getLogger("edgesplit.queue")


class AiohttpSender:
    """Delivers a VendorRequest; any failure becomes a SendResult, never an exception."""

    def __init__(self, clock: Clock, timeout: float) -> None:
        self.clock = clock
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, request: VendorRequest) -> SendResult:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(
                request.url, data=request.body, headers=list(request.headers)
            ) as response:
                text = (await response.text(errors="replace"))[:300]
                return SendResult(
                    response.status,
                    retry_after_seconds(response.headers.get("Retry-After"), self.clock.now()),
                    text,
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendResult(None, None, f"{exc.__class__.__name__}: {exc}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class _LockedStore:
    """A QueueStore whose every call holds the shard's lock (the drain runs on the event loop)."""

    def __init__(self, store: QueueStore, lock: threading.RLock) -> None:
        self._store = store
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


class LocalQueue:
    def __init__(
        self,
        directory: str | Path,
        shards: int,
        adapters: Mapping[str, Any],
        send: Any,
        clock: Clock,
        metrics: Metrics,
        policy: DrainPolicy | None = None,
        *,
        first_drain_delay: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sqls = [SqliteSql(self.directory / f"shard-{index}.sqlite3") for index in range(shards)]
        self.stores = [QueueStore(sql) for sql in self.sqls]
        # One connection per shard, used from the event loop and from worker threads: one at a time.
        self.locks = [threading.RLock() for _ in self.sqls]
        self.adapters = dict(adapters)
        self.send = send
        self.clock = clock
        self.metrics = metrics
        self.policy = policy or DrainPolicy()
        self.first_drain_delay = first_drain_delay
        self.rng = rng or random.Random()
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stopped = False
        self.shard_lock: Any = None
        """With several worker processes (``proxy/leases.ShardLocks``): ``acquire(index) -> bool``
        and ``release(index)``, so one process at a time drains a shard."""

    def _shard(self, events: list[dict[str, Any]]) -> int:
        return shard_for(str(events[0].get("visitor_id", "")), len(self.stores))

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        index = self._shard(events)
        # The commit waits for fsync: done in a worker thread, so requests never wait on the disk.
        result = await asyncio.to_thread(
            self._locked,
            index,
            self.stores[index].enqueue,
            vendor,
            events,
            self.clock.now(),
            self.policy.bounds,
        )
        if result.dropped:
            log.warning(
                "queue shard %d for %s is full: dropped %d events (policy %r)",
                index,
                vendor,
                result.dropped,
                self.policy.bounds.drop,
            )
        self.arm(index, self.clock.now() + self.first_drain_delay)

    async def dead_letter(self, vendor: str, events: list[dict[str, Any]], reason: str) -> None:
        index = self._shard(events)
        await asyncio.to_thread(
            self._locked,
            index,
            self.stores[index].dead_letter_events,
            vendor,
            events,
            reason,
            self.clock.now(),
        )

    def _locked(self, index: int, method: Any, *args: Any) -> Any:
        with self.locks[index]:
            return method(*args)

    def arm(self, index: int, when: float) -> None:
        """Persist and schedule shard ``index``'s alarm (the earlier of what is set and ``when``)."""
        store = _LockedStore(self.stores[index], self.locks[index])
        current = store.alarm_at()
        if current is not None and current <= when and index in self._timers:
            return
        store.set_alarm_at(when)
        self._schedule(index, when)

    def _schedule(self, index: int, when: float) -> None:
        if self._stopped:
            return
        loop = asyncio.get_running_loop()
        if index in self._timers:
            self._timers[index].cancel()
        self._timers[index] = loop.call_later(max(0.0, when - self.clock.now()), self._fire, index)

    def _fire(self, index: int) -> None:
        self._timers.pop(index, None)
        if index in self._running and not self._running[index].done():
            self._schedule(index, self.clock.now() + 0.1)
            return
        self._running[index] = asyncio.get_running_loop().create_task(self._drain(index))

    async def _drain(self, index: int) -> None:
        if self.shard_lock is None:
            await self._drain_shard(index)
        elif self.shard_lock.acquire(index):
            try:
                await self._drain_shard(index)
            finally:
                self.shard_lock.release(index)
        else:  # another worker is draining it: look again when it should be done
            self._schedule(index, self.clock.now() + self.policy.pace_seconds)

    async def _drain_shard(self, index: int) -> None:
        store = self.stores[index]

        async def offload(function: Any, *args: Any) -> Any:
            return await asyncio.to_thread(self._locked, index, function, *args)

        await offload(store.set_alarm_at, None)
        try:
            next_at = await drain_shard(
                store, self.adapters, self.send, self.clock.now(), self.rng, self.policy, offload
            )
        except Exception:
            log.exception("queue shard %d drain failed; retrying in 5 s", index)
            next_at = self.clock.now() + 5.0
        if next_at is not None:
            self.arm(index, next_at)

    def start(self) -> None:
        """Resume every persisted alarm (after a restart) and drain what is pending."""
        self.resume(self.pending_alarms())

    def pending_alarms(self) -> dict[int, float]:
        """Shards with a persisted alarm or pending events, and when to drain them. Safe in a
        worker thread: the workers of ``serve --workers`` call it periodically, off the event loop,
        to pick up shards another worker left behind."""
        alarms: dict[int, float] = {}
        for index, store in enumerate(self.stores):
            with self.locks[index]:
                when = store.alarm_at()
                if when is not None or store.count():
                    alarms[index] = when if when is not None else self.clock.now()
        return alarms

    def resume(self, alarms: Mapping[int, float]) -> None:
        """Schedule the shards in ``alarms`` that have no timer or drain running here."""
        for index, when in alarms.items():
            if index not in self._timers and not (index in self._running and not self._running[index].done()):
                self._schedule(index, when)

    async def stop(self) -> None:
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        for sql in self.sqls:
            sql.close()

    def stats(self) -> dict[str, dict[str, Any]]:
        now = self.clock.now()
        return {f"shard-{index}": store.stats(now) for index, store in enumerate(self.stores)}

    def export_metrics(self) -> None:
        for shard, vendors in self.stats().items():
            for vendor, numbers in vendors.items():
                self.metrics.set_gauge("edgesplit_queue_depth", numbers["depth"], vendor=vendor, shard=shard)
                self.metrics.set_gauge(
                    "edgesplit_queue_oldest_age_seconds",
                    numbers["oldest_age_seconds"],
                    vendor=vendor,
                    shard=shard,
                )
                for kind in ("delivered", "retried", "dropped_full", "dropped_expired", "dead_lettered"):
                    self.metrics.set_gauge(
                        "edgesplit_queue_events_total", numbers[kind], vendor=vendor, shard=shard, kind=kind
                    )
