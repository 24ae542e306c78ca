"""Without a vendor, events go to a bounded memory outbox: the newest kept, the rest counted."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.pipeline import Metrics
from edgesplit.proxy.memory_outbox import MEMORY_OUTBOX_LIMIT, MemoryOutbox


@given(st.integers(1, 50), st.lists(st.integers(0, 30), max_size=40))
def test_memory_outbox_keeps_the_newest_and_counts_every_drop(limit: int, batches: list[int]) -> None:
    metrics = Metrics()
    outbox = MemoryOutbox(limit, metrics)
    submitted = []
    for size in batches:
        batch = [{"id": f"e{len(submitted) + n}"} for n in range(size)]
        submitted.extend(batch)
        outbox.submit(batch)
    assert list(outbox.events) == submitted[-limit:]
    assert outbox.dropped == len(submitted) - len(outbox.events)
    dropped = metrics.value("edgesplit_events_dropped_total", vendor="none", reason="no_vendor")
    assert dropped == outbox.dropped


def test_a_proxy_without_a_vendor_holds_a_bounded_number_of_events() -> None:
    outbox = MemoryOutbox()
    for n in range(MEMORY_OUTBOX_LIMIT + 2_000):
        outbox.submit([{"id": f"conversion-{n}"}])
    assert len(outbox.events) == MEMORY_OUTBOX_LIMIT and outbox.dropped == 2_000
    assert outbox.events[-1]["id"] == f"conversion-{MEMORY_OUTBOX_LIMIT + 1_999}"
