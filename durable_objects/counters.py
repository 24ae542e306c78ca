"""The guardrail counts and their updater: one object, so one updater at a time.

Isolates send batched increments (``add``); the cron calls ``update``, which reads the config
from KV, plans pauses and bandit weights from the counts, and writes the new config back to KV,
where every isolate picks it up within its refresh interval.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from workers import DurableObject

from edgesplit.core import ConfigError, parse_config_text
from edgesplit.guardrails.counts import CountsStore
from edgesplit.guardrails.updater import apply_update, plan_updates, record_update
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
        key = getattr(self.env, "EDGESPLIT_CONFIG_KEY", None) or "config.json"
        if kv is None:
            return {"skipped": "no EDGESPLIT_CONFIG namespace"}
        text = await kv.get(key)
        if not isinstance(text, str):
            return {"skipped": "no config in KV"}
        try:
            config = parse_config_text(text)
        except ConfigError as exc:
            return {"skipped": f"config in KV is invalid: {exc}"}
        now = time.time()
        update = plan_updates(config, self.counts, now, random.Random())
        self.counts.compact(now)
        if not update:
            return {"paused": [], "weights": {}}
        document = apply_update(json.loads(text), update)
        await kv.put(key, json.dumps(document, indent=2))
        record_update(self.counts, update, now)
        return {"paused": sorted(update.pauses), "weights": update.weights}
