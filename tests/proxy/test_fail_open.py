"""A failing event queue behind a vendor that is down: events dropped and counted, never a page.
The pipeline's own fail-open paths are tested on the pipeline (tests/pipeline/test_flow_fail_open.py)."""

from __future__ import annotations

from typing import Any


async def test_a_failing_queue_drops_events_counted_and_requests_still_served(tmp_path) -> None:  # noqa: ANN001
    from edgesplit.queue.delivery import DeliveryOutbox
    from edgesplit.vendors import SendResult, WebhookAdapter

    class BrokenQueue:
        async def enqueue(self, vendor: str, events: Any) -> None:
            raise OSError("disk full")

        async def dead_letter(self, vendor: str, events: Any, reason: str) -> None:
            raise OSError("disk full")

    async def vendor_down(request: Any) -> SendResult:
        return SendResult(None, None, "connection refused")

    from edgesplit.pipeline import Metrics
    from edgesplit.proxy.runtime import SystemClock, TaskBackground

    metrics, background = Metrics(), TaskBackground()
    outbox = DeliveryOutbox(
        {"v": WebhookAdapter("http://vendor.invalid/b", name="v")},
        vendor_down,
        BrokenQueue(),
        background,
        SystemClock(),
        metrics,
        linger_seconds=0,
    )
    outbox.submit(
        [
            {
                "id": f"e{n}",
                "type": "exposure",
                "visitor_id": "x",
                "experiment": "hero",
                "variant": "a",
                "timestamp": "2026-11-24T00:00:00.000Z",
            }
            for n in range(3)
        ]
    )
    await background.drain()
    assert metrics.value("edgesplit_events_dropped_total", vendor="v", reason="queue_unavailable") == 3
