"""The Cloudflare Worker entry: translate, then hand over to the pipeline (edgesplit.edge)."""

from durable_objects.counters import Counters
from workers import WorkerEntrypoint

from durable_objects.queue_shard import QueueShard
from edgesplit.edge.worker import handle_fetch, handle_scheduled

__all__ = ["Counters", "Default", "QueueShard"]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # If edgesplit itself raises, Cloudflare sends the request on to the origin.
        self.ctx.passThroughOnException()
        return await handle_fetch(request, self.env, self.ctx)

    async def scheduled(self, controller, env, ctx):
        await handle_scheduled(env)
