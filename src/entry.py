"""The Cloudflare Worker entry: translate, then hand over to the pipeline (edgesplit.edge)."""

from typing import Any

from workers import WorkerEntrypoint

from durable_objects.counters import Counters
from durable_objects.queue_shard import QueueShard
from edgesplit.edge.worker import handle_fetch, handle_scheduled

__all__ = ["Counters", "Default", "QueueShard"]


class Default(WorkerEntrypoint):
    async def fetch(self, request: Any) -> Any:
        # If edgesplit itself raises, Cloudflare sends the request on to the origin.
        self.ctx.passThroughOnException()
        return await handle_fetch(request, self.env, self.ctx)

    async def scheduled(self, controller: Any, env: Any, ctx: Any) -> None:
        # Only self.env is wrapped by the SDK (its stubs convert Python lists and dicts for RPC);
        # the env argument is the raw JS object, whose stubs refuse Python values.
        await handle_scheduled(self.env)
