"""The status page's numbers for the self-hosted proxy: the counts SQLite file and the queue
shards, read off the event loop."""

from __future__ import annotations

import asyncio

from ..status import StatusData, merge_queue_stats, read_counts
from .guardrail_runner import GuardrailRunner
from .queue_runner import LocalQueue

__all__ = ["LocalStatusSource"]


class LocalStatusSource:
    def __init__(self, guardrails: GuardrailRunner, queue: LocalQueue | None) -> None:
        self.guardrails = guardrails
        self.queue = queue

    async def gather(self, experiments: list[str], now: float) -> StatusData:
        await self.guardrails.flush(now)  # what the recorder holds counts too: the page is current
        counts = self.guardrails.counts
        data = await asyncio.to_thread(self.guardrails.locked, read_counts, counts, experiments, now)
        if self.queue is not None:
            data.queue = merge_queue_stats((await asyncio.to_thread(self.queue.stats)).values())
        return data
