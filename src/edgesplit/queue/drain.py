"""The queue's state machine: one alarm's work on one shard. Pure apart from its ports.

For each vendor with pending events whose backoff has passed:

1. drop events older than the bound (counted as expired);
2. send up to ``batches_per_run`` batches, oldest first, split within the vendor's limits;
   events too large for the vendor go to the dead letters;
3. per batch: delivered -> acknowledged; refused (4xx but 408/429) -> dead letters with the
   reason; failed (network, timeout, 408, 429, 5xx) -> stop this vendor, back off
   exponentially with full jitter, never sooner than ``Retry-After``.

Returns when the next alarm should fire: soon when work remains (pacing the drain so a
recovered vendor is not stampeded), at the earliest backoff end, or None when empty.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import defaults
from ..vendors import SendResult, VendorRequest, classify, split_batches
from .store import Bounds, QueueStore

__all__ = ["DrainPolicy", "backoff_seconds", "drain_shard"]

Send = Callable[[VendorRequest], Awaitable[SendResult]]
Offload = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class DrainPolicy:
    batches_per_run: int = defaults.DRAIN_BATCHES_PER_RUN
    pace_seconds: float = defaults.DRAIN_PACE_SECONDS
    base_backoff_seconds: float = defaults.DRAIN_BACKOFF_SECONDS
    max_backoff_seconds: float = defaults.DRAIN_MAX_BACKOFF_SECONDS
    bounds: Bounds = Bounds()


def backoff_seconds(attempts: int, policy: DrainPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempts-1))], at least a tenth of a second."""
    ceiling = min(policy.max_backoff_seconds, policy.base_backoff_seconds * 2 ** max(0, attempts - 1))
    return max(0.1, rng.uniform(0, ceiling))


async def _inline(function: Callable[..., Any], *args: Any) -> Any:
    return function(*args)


async def drain_shard(
    store: QueueStore,
    adapters: Mapping[str, Any],
    send: Send,
    now: float,
    rng: random.Random,
    policy: DrainPolicy | None = None,
    offload: Offload = _inline,
) -> float | None:
    """``offload`` runs each storage call and each batch's encoding: inline at the edge (a
    Durable Object's storage is synchronous and local), in a worker thread in the self-hosted
    proxy, so the request path's event loop never waits on SQLite or on JSON."""
    policy = policy or DrainPolicy()
    wake_at: list[float] = []
    for vendor in await offload(store.pending_vendors):
        adapter = adapters.get(vendor)
        if adapter is None:
            continue  # not configured any more: its events wait, visible in the stats
        state = await offload(store.state, vendor)
        if now < state.next_attempt_at:
            wake_at.append(state.next_attempt_at)
            continue
        await offload(store.expire, vendor, now, policy.bounds.max_age_seconds)
        failed = False
        for _ in range(policy.batches_per_run):
            rows = await offload(store.oldest, vendor, adapter.max_batch_events)
            if not rows:
                break
            split = await offload(split_batches, adapter, [event for _, event in rows])
            for event_id, reason in split.too_large:
                await offload(store.dead_letter, vendor, [event_id], reason, now)
            for request in split.requests:
                outcome = classify(await send(request))
                if outcome.kind == "delivered":
                    await offload(store.acknowledge, vendor, request.event_ids)
                elif outcome.kind == "dead":
                    await offload(store.dead_letter, vendor, request.event_ids, outcome.reason, now)
                else:
                    attempts = state.attempts + 1
                    delay = max(backoff_seconds(attempts, policy, rng), outcome.retry_after or 0.0)
                    await offload(store.count_retry, vendor, len(request.event_ids))
                    await offload(store.set_state, vendor, attempts, now + delay, outcome.reason)
                    wake_at.append(now + delay)
                    failed = True
                    break
            if failed:
                break
        if not failed:
            if state.attempts or state.last_error:
                await offload(store.set_state, vendor, 0, 0.0, "")
            if await offload(store.count, vendor):
                wake_at.append(now + policy.pace_seconds)
    return min(wake_at) if wake_at else None
