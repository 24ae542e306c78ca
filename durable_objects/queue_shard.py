"""One shard of the durable event queue: the shared queue logic on ctx.storage.sql and alarms.

Thin glue: ``edgesplit.queue.store`` holds the SQL and ``edgesplit.queue.drain`` the state
machine, both tested on a real SQLite. This class only maps RPC calls and the alarm onto them.
"""

from __future__ import annotations

import random
import time
from typing import Any

from workers import DurableObject

from edgesplit.edge.js_adapters import FetchSender
from edgesplit.queue.drain import DrainPolicy, drain_shard
from edgesplit.queue.store import Bounds, QueueStore
from edgesplit.vendors import adapters_from_settings

from .storage_sql import StorageSql

__all__ = ["QueueShard"]

FIRST_DRAIN_DELAY_SECONDS = 1.0


def _var(env: Any, name: str) -> str | None:
    value = getattr(env, name, None)
    return value if isinstance(value, str) and value else None


def _number(env: Any, name: str, default: float) -> float:
    value = _var(env, name)
    return float(value) if value is not None else default


class QueueShard(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.store = QueueStore(StorageSql(ctx.storage.sql))

    def _policy(self) -> DrainPolicy:
        env = self.env
        bounds = Bounds(
            max_events=int(_number(env, "EDGESPLIT_QUEUE_MAX_EVENTS", 100_000)),
            max_bytes=int(_number(env, "EDGESPLIT_QUEUE_MAX_BYTES", 64 * 1024 * 1024)),
            max_age_seconds=_number(env, "EDGESPLIT_QUEUE_MAX_AGE", 7 * 86_400),
            drop=_var(env, "EDGESPLIT_QUEUE_DROP") or "oldest",
        )
        return DrainPolicy(
            batches_per_run=int(_number(env, "EDGESPLIT_DRAIN_BATCHES", 10)),
            pace_seconds=_number(env, "EDGESPLIT_DRAIN_PACE", 1.0),
            base_backoff_seconds=_number(env, "EDGESPLIT_DRAIN_BACKOFF", 1.0),
            bounds=bounds,
        )

    async def _arm(self, when_seconds: float) -> None:
        current = await self.ctx.storage.getAlarm()
        if current is None or current > when_seconds * 1000:
            await self.ctx.storage.setAlarm(when_seconds * 1000)

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> dict[str, int]:
        """RPC: keep these events until the vendor has them (bounded; drops are counted)."""
        result = self.store.enqueue(vendor, events, time.time(), self._policy().bounds)
        await self._arm(time.time() + FIRST_DRAIN_DELAY_SECONDS)
        return {"added": result.added, "duplicates": result.duplicates, "dropped": result.dropped}

    async def dead_letter(self, vendor: str, events: list[dict[str, Any]], reason: str) -> dict[str, int]:
        """RPC: events a vendor refused for good on the direct path."""
        return {"dead_lettered": self.store.dead_letter_events(vendor, events, reason, time.time())}

    async def kick(self) -> dict[str, int]:
        """RPC from the cron: make sure pending events have an alarm."""
        depth = self.store.count()
        if depth:
            await self._arm(time.time())
        return {"depth": depth}

    async def stats(self) -> dict[str, Any]:
        return self.store.stats(time.time())

    async def dead_letters(self, vendor: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.store.dead_letters(vendor, limit)

    async def replay(self, vendor: str | None = None) -> dict[str, int]:
        moved = self.store.replay(vendor, time.time())
        if moved:
            await self._arm(time.time())
        return {"replayed": moved}

    async def alarm(self, info: Any = None) -> None:
        adapters = adapters_from_settings(
            _var(self.env, "EDGESPLIT_VENDORS"), _var(self.env, "EDGESPLIT_VENDOR_URL")
        )
        timeout = _number(self.env, "EDGESPLIT_DRAIN_TIMEOUT", 10.0)
        next_at = await drain_shard(
            self.store, adapters, FetchSender(timeout), time.time(), random.Random(), self._policy()
        )
        if next_at is not None:
            await self.ctx.storage.setAlarm(next_at * 1000)
