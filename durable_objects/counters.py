"""The guardrail counts and their updater: one object, so one updater at a time.

Isolates send batched increments (``add``); the cron calls ``update``, which reads the config
from KV, plans pauses and bandit weights from the counts, and writes the new config back to KV,
where every isolate picks it up within its refresh interval.
"""

from __future__ import annotations

import random
import time
from typing import Any

from workers import DurableObject

from edgesplit.core import ConfigError
from edgesplit.edge.settings import EdgeSettings
from edgesplit.guardrails.counts import CountsStore
from edgesplit.guardrails.updater import prepare_update, record_update
from edgesplit.status import read_counts

from .storage_sql import StorageSql

__all__ = ["Counters"]


class Counters(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.counts = CountsStore(StorageSql(ctx.storage.sql))

    async def add(self, rows: list[list[Any]]) -> dict[str, int]:
        """RPC: ``[[experiment, variant, epoch seconds, {field: amount}], ...]`` (lists, not tuples)."""
        self.counts.add((str(e), str(v), float(t), dict(amounts)) for e, v, t, amounts in rows)
        return {"rows": len(rows)}

    async def totals(self, experiment: str) -> dict[str, dict[str, int]]:
        return {
            variant: {
                "exposures": t.exposures,
                "conversions": t.conversions,
                "requests": t.requests,
                "errors": t.errors,
            }
            for variant, t in self.counts.totals(experiment).items()
        }

    async def status(self, experiments: list[str], now: float) -> dict[str, Any]:
        """RPC for the status page: counts, hourly series, guardrail state and history."""
        return read_counts(self.counts, [str(key) for key in experiments], float(now)).to_json()

    async def update(self) -> dict[str, Any]:
        """RPC from the cron: pause harmful experiments and move bandit weights, through KV."""
        kv = getattr(self.env, "EDGESPLIT_CONFIG", None)
        key = EdgeSettings.from_env(self.env).config_key
        if kv is None:
            return {"skipped": "no EDGESPLIT_CONFIG namespace"}
        text = await kv.get(key)
        if not isinstance(text, str):
            return {"skipped": "no config in KV"}
        now = time.time()
        try:
            prepared = prepare_update(text, self.counts, now, random.Random())
        except ConfigError as exc:
            return {"skipped": f"config in KV is invalid: {exc}"}
        update = prepared.update
        if prepared.refused is not None:  # never write what isolates would refuse
            return {"refused": str(prepared.refused)}
        if prepared.text is None:
            return {"paused": [], "weights": {}}
        await kv.put(key, prepared.text)
        record_update(self.counts, update, now)
        return {"paused": sorted(update.pauses), "weights": update.weights}
