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
from edgesplit.edge.settings import EdgeSettings
from edgesplit.queue.drain import drain_shard
from edgesplit.queue.store import QueueStore

from .storage_sql import StorageSql

__all__ = ["QueueShard"]

FIRST_DRAIN_DELAY_SECONDS = 1.0


class QueueShard(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.store = QueueStore(StorageSql(ctx.storage.sql))
        self._settings: EdgeSettings | None = None

    @property
    def settings(self) -> EdgeSettings:
        """The Worker's variables (bounds, drain pace, vendors), read on first use. A bad one
        raises SettingsError: the events stay where they are (an alarm is retried, the cron
        re-arms it) rather than being handled under settings nobody asked for."""
        if self._settings is None:
            self._settings = EdgeSettings.from_env(self.env)
        return self._settings

    async def _arm(self, when_seconds: float) -> None:
        current = await self.ctx.storage.getAlarm()
        if current is None or current > when_seconds * 1000:
            await self.ctx.storage.setAlarm(when_seconds * 1000)

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> dict[str, int]:
        """RPC: keep these events until the vendor has them (bounded; drops are counted)."""
        result = self.store.enqueue(vendor, events, time.time(), self.settings.queue_bounds)
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
        settings = self.settings
        next_at = await drain_shard(
            self.store,
            settings.vendors,
            FetchSender(settings.drain_timeout_seconds),
            time.time(),
            random.Random(),
            settings.drain,
        )
        if next_at is not None:
            await self.ctx.storage.setAlarm(next_at * 1000)
