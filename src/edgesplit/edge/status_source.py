"""The status page's numbers at the edge: the ``Counters`` Durable Object (counts, guardrail
state and history) and every ``QueueShard`` (depth, oldest pending), over Workers RPC.

Built once per isolate: it holds the namespaces (the isolate's bindings) and takes a new stub
for each request, as a stub is the I/O object of the request that made it."""

from __future__ import annotations

import asyncio
from typing import Any

from ..guardrails.recorder import CountsRecorder
from ..queue.sharding import shard_name
from ..status import StatusData, merge_queue_stats

__all__ = ["EdgeStatusSource", "counters_stub", "plain"]

COUNTERS_OBJECT = "counters"


def plain(value: Any) -> Any:
    """An RPC result as plain Python (the SDK converts most of it; JS proxies may remain)."""
    if hasattr(value, "to_py"):
        value = value.to_py()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def counters_stub(namespace: Any) -> Any:
    """The one ``Counters`` object (one updater at a time)."""
    return namespace.get(namespace.idFromName(COUNTERS_OBJECT))


class EdgeStatusSource:
    def __init__(self, counters: Any, queue: Any, shards: int, recorder: CountsRecorder) -> None:
        self.counters = counters
        self.queue = queue
        self.shards = shards
        self.recorder = recorder

    async def gather(self, experiments: list[str], now: float) -> StatusData:
        rows = [[e, v, t, amounts] for e, v, t, amounts in self.recorder.drain(now)]
        if rows:  # this isolate's latest counts first, so the page is current
            try:
                await counters_stub(self.counters).add(rows)
            except Exception:
                self.recorder.restore(rows)
                raise
        status = await counters_stub(self.counters).status(list(experiments), now)
        data = StatusData.from_json(plain(status))
        stubs = [self.queue.get(self.queue.idFromName(shard_name(i))) for i in range(self.shards)]
        shard_stats = await asyncio.gather(*(stub.stats() for stub in stubs))
        data.queue = merge_queue_stats(plain(stats) for stats in shard_stats)
        return data
