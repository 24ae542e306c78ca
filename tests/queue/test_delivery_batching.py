"""Batching bounds of direct delivery: events wait out the linger together, a full buffer goes at
once, and whatever the timing every event reaches the vendor exactly once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from edgesplit.pipeline import Metrics
from edgesplit.proxy.runtime import SystemClock, TaskBackground
from edgesplit.queue.delivery import DeliveryOutbox
from edgesplit.vendors import SendResult, VendorRequest
from edgesplit.vendors.adapters import WebhookAdapter


class NoQueue:
    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> None:
        raise AssertionError("a healthy vendor's events never reach the queue")

    async def dead_letter(self, vendor: str, events: list[dict[str, Any]], reason: str) -> None:
        raise AssertionError("nothing here is refused")


def event(n: int) -> dict[str, Any]:
    return {
        "id": f"conversion-{n}",
        "type": "conversion",
        "visitor_id": f"v{n}",
        "timestamp": "2026-11-24T00:00:00.000Z",
    }


def outbox(linger: float, max_buffer: int) -> tuple[DeliveryOutbox, list[list[str]], TaskBackground]:
    batches: list[list[str]] = []

    async def vendor(request: VendorRequest) -> SendResult:
        assert len(json.loads(request.body)["batch"]) == len(request.event_ids)
        batches.append(list(request.event_ids))
        return SendResult(200, None, "ok")

    background = TaskBackground()
    delivery = DeliveryOutbox(
        {"v": WebhookAdapter("http://vendor.invalid/batch", name="v")},
        vendor,
        NoQueue(),
        background,
        SystemClock(),
        Metrics(),
        linger_seconds=linger,
        max_buffer_events=max_buffer,
    )
    return delivery, batches, background


async def test_events_within_the_linger_go_in_one_batch() -> None:
    delivery, batches, background = outbox(linger=0.2, max_buffer=1000)
    for n in range(30):
        delivery.submit([event(n)])
    await background.drain()
    assert batches == [[f"conversion-{n}" for n in range(30)]]


async def test_a_full_buffer_goes_without_waiting_out_the_linger() -> None:
    delivery, batches, background = outbox(linger=60.0, max_buffer=10)
    for n in range(25):
        delivery.submit([event(n)])
    deadline = asyncio.get_running_loop().time() + 30
    while sum(len(batch) for batch in batches) < 20:  # two full buffers, long before 60 s
        assert asyncio.get_running_loop().time() < deadline, batches
        await asyncio.sleep(0.01)
    assert batches[:2] == [[f"conversion-{n}" for n in range(i, i + 10)] for i in (0, 10)]


async def test_every_event_arrives_once_whatever_the_bounds() -> None:
    for linger, max_buffer in ((0.0, 1), (0.01, 7), (0.05, 1000)):
        delivery, batches, background = outbox(linger, max_buffer)
        for start in range(0, 200, 13):
            delivery.submit([event(n) for n in range(start, min(200, start + 13))])
            await asyncio.sleep(0)
        await background.drain()
        delivered = [event_id for batch in batches for event_id in batch]
        assert sorted(delivered) == sorted(f"conversion-{n}" for n in range(200))
        assert len(delivered) == len(set(delivered))
