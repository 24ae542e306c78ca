"""One shard of the durable event queue: stores events, drains them to the vendor on its alarm."""

from __future__ import annotations

import json
import time
from typing import Any

import js
from pyodide.ffi import to_js
from workers import DurableObject

from edgesplit.queue import QueueStore

from .storage_sql import StorageSql

__all__ = ["QueueShard"]

FIRST_DRAIN_DELAY_MS = 1_000
RETRY_DELAY_MS = 30_000
BATCH = 100


class QueueShard(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.store = QueueStore(StorageSql(ctx.storage.sql))

    async def _arm(self, delay_ms: int) -> None:
        if await self.ctx.storage.getAlarm() is None:
            await self.ctx.storage.setAlarm(time.time() * 1000 + delay_ms)

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> dict[str, int]:
        """RPC from the Worker: keep these events until the vendor has them."""
        added = self.store.enqueue(vendor, events, time.time())
        await self._arm(FIRST_DRAIN_DELAY_MS)
        return {"added": added, "depth": self.store.count()}

    async def kick(self) -> dict[str, int]:
        """RPC from the cron: arm the alarm if anything waits."""
        depth = self.store.count()
        if depth:
            await self._arm(0)
        return {"depth": depth}

    async def stats(self) -> dict[str, Any]:
        return {"depth": self.store.count(), "vendors": self.store.vendors()}

    async def alarm(self, info: Any = None) -> None:
        url = getattr(self.env, "EDGESPLIT_VENDOR_URL", None)
        if not isinstance(url, str) or not url:
            return  # no vendor configured: events wait, counted in stats
        for vendor in self.store.vendors():
            while True:
                batch = self.store.oldest(vendor, BATCH)
                if not batch:
                    break
                init = to_js({"method": "POST", "headers": {"content-type": "application/json"},
                              "body": json.dumps({"batch": [event for _, event in batch]})},
                             dict_converter=js.Object.fromEntries)
                try:
                    response = await js.fetch(url, init)
                    delivered = 200 <= int(response.status) < 300
                except Exception:  # noqa: BLE001 - any failure: keep the events, retry later
                    delivered = False
                if not delivered:
                    await self.ctx.storage.setAlarm(time.time() * 1000 + RETRY_DELAY_MS)
                    return
                self.store.remove([seq for seq, _ in batch])
