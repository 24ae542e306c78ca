"""The queue's SQL and state machine on a real SQLite: bounds, dead letters, backoff,
Retry-After, and a stateful property test under random interleavings."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from edgesplit.queue.drain import DrainPolicy, backoff_seconds, drain_shard
from edgesplit.queue.store import Bounds, QueueStore
from edgesplit.vendors import SendResult, WebhookAdapter
from memory_sql import MemorySql


def event(n: int, size: int = 0) -> dict[str, Any]:
    return {
        "id": f"e{n:06d}",
        "type": "exposure",
        "visitor_id": f"v{n}",
        "experiment": "x",
        "variant": "a",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "pad": "p" * size,
    }


class FakeVendor:
    """Answers as told; records every event id it accepted (duplicates included)."""

    def __init__(self) -> None:
        self.answers: list[SendResult] = []
        self.accepted: list[str] = []
        self.requests = 0

    async def __call__(self, request: Any) -> SendResult:
        self.requests += 1
        answer = self.answers.pop(0) if self.answers else SendResult(200)
        if answer.status is not None and 200 <= answer.status < 300:
            self.accepted.extend(request.event_ids)
        return answer


ADAPTERS = {"v": WebhookAdapter("http://vendor.invalid/batch", name="v", max_batch_events=10)}


def drain(
    store: QueueStore, vendor: FakeVendor, now: float, policy: DrainPolicy | None = None
) -> float | None:
    return asyncio.run(drain_shard(store, ADAPTERS, vendor, now, random.Random(1), policy or DrainPolicy()))


def test_enqueue_is_idempotent_per_vendor() -> None:
    store = QueueStore(MemorySql())
    assert store.enqueue("v", [event(1), event(2)], 0).added == 2
    again = store.enqueue("v", [event(1), event(3)], 1)
    assert (again.added, again.duplicates) == (1, 1)
    assert store.enqueue("other", [event(1)], 1).added == 1  # each vendor has its own queue
    assert store.count("v") == 3 and store.count() == 4


def test_drain_delivers_in_order_and_acknowledges() -> None:
    store, vendor = QueueStore(MemorySql()), FakeVendor()
    store.enqueue("v", [event(n) for n in range(25)], 0)
    assert drain(store, vendor, 10) is None
    assert vendor.accepted == [f"e{n:06d}" for n in range(25)] and store.count() == 0
    assert store.stats(10)["v"]["delivered"] == 25


def test_drain_is_paced() -> None:
    store, vendor = QueueStore(MemorySql()), FakeVendor()
    store.enqueue("v", [event(n) for n in range(50)], 0)
    policy = DrainPolicy(batches_per_run=2, pace_seconds=0.5)
    assert drain(store, vendor, 10, policy) == 10.5  # 20 sent; the rest after a pause
    assert len(vendor.accepted) == 20 and store.count() == 30


def test_failure_backs_off_with_jitter_and_honours_retry_after() -> None:
    store, vendor = QueueStore(MemorySql()), FakeVendor()
    store.enqueue("v", [event(n) for n in range(5)], 0)
    vendor.answers = [SendResult(429, retry_after=30.0)]
    wake = drain(store, vendor, 100)
    assert wake is not None and wake >= 130.0
    assert store.state("v").attempts == 1 and store.count() == 5
    assert drain(store, vendor, 110) == wake and vendor.requests == 1  # not before Retry-After
    assert drain(store, vendor, wake) is None and store.count() == 0
    assert store.state("v").attempts == 0 and store.stats(wake)["v"]["retried"] == 5


def test_backoff_grows_exponentially_within_the_cap() -> None:
    policy = DrainPolicy(base_backoff_seconds=1, max_backoff_seconds=60)
    rng = random.Random(3)
    ceilings = [max(backoff_seconds(attempt, policy, rng) for _ in range(200)) for attempt in range(1, 10)]
    assert ceilings[0] <= 1.0 and 7 < ceilings[3] <= 8.0 and all(c <= 60 for c in ceilings)


@pytest.mark.parametrize(
    "status,kind", [(400, "dead"), (413, "dead"), (503, "retry"), (408, "retry"), (None, "retry")]
)
def test_poison_batches_go_to_dead_letters_and_can_be_replayed(status: int | None, kind: str) -> None:
    store, vendor = QueueStore(MemorySql()), FakeVendor()
    store.enqueue("v", [event(1)], 0)
    vendor.answers = [SendResult(status, error="bad payload")]
    drain(store, vendor, 1)
    if kind == "dead":
        assert store.count() == 0
        [letter] = store.dead_letters("v")
        assert letter["event_id"] == "e000001" and letter["reason"].startswith(f"HTTP {status}")
        assert store.enqueue("v", [event(1)], 2).added == 0  # a dead event is not queued again
        assert store.replay("v", 3) == 1 and store.count() == 1 and store.dead_letters() == []
        drain(store, vendor, 4)
        assert vendor.accepted == ["e000001"]
    else:
        assert store.count() == 1 and store.dead_letters() == []


def test_too_large_events_are_dead_lettered_not_retried() -> None:
    store, vendor = QueueStore(MemorySql()), FakeVendor()
    store.enqueue("v", [event(1, size=70_000), event(2)], 0)
    drain(store, vendor, 1)
    assert vendor.accepted == ["e000002"]
    assert "accepts at most" in store.dead_letters("v")[0]["reason"]


@pytest.mark.parametrize(
    "drop,kept",
    [("oldest", ["e000003", "e000004", "e000005"]), ("newest", ["e000000", "e000001", "e000002"])],
)
def test_count_bound_drops_by_policy_and_counts(drop: str, kept: list[str]) -> None:
    store = QueueStore(MemorySql())
    bounds = Bounds(max_events=3, drop=drop)
    for n in range(6):
        store.enqueue("v", [event(n)], n, bounds)
    assert [e["id"] for _, e in store.oldest("v", 10)] == kept
    assert store.stats(6)["v"]["dropped_full"] == 3


def test_byte_bound_and_age_bound() -> None:
    store = QueueStore(MemorySql())
    bounds = Bounds(max_bytes=1000)
    for n in range(10):
        store.enqueue("v", [event(n, size=200)], n, bounds)
    stats = store.stats(10)["v"]
    assert stats["bytes"] <= 1000 and stats["dropped_full"] == 10 - stats["depth"]
    store.expire("v", now=10_000, max_age_seconds=60)
    assert store.count() == 0 and store.stats(10_000)["v"]["dropped_expired"] == stats["depth"]


class QueueMachine(RuleBasedStateMachine):
    """Random interleavings of enqueue, drain (with failures), restart and replay: every event
    ever enqueued is always delivered, pending, dead-lettered or counted as dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.sql = MemorySql()
        self.store = QueueStore(self.sql)
        self.vendor = FakeVendor()
        self.enqueued: set[str] = set()
        self.now = 0.0
        self.bounds = Bounds(max_events=40)

    @rule(ids=st.lists(st.integers(0, 80), min_size=1, max_size=8))
    def enqueue(self, ids: list[int]) -> None:
        self.store.enqueue("v", [event(n) for n in ids], self.now, self.bounds)
        self.enqueued.update(f"e{n:06d}" for n in ids)

    @rule(answers=st.lists(st.sampled_from([200, 200, 500, 429, 400, None]), max_size=4))
    def drain(self, answers: list[int | None]) -> None:
        self.vendor.answers = [SendResult(a, retry_after=1.0 if a == 429 else None) for a in answers]
        self.now += 400.0  # past any backoff
        drain(self.store, self.vendor, self.now)

    @rule()
    def restart(self) -> None:
        self.store = QueueStore(self.sql)  # a new object on the same database, like a restarted process

    @rule()
    def replay(self) -> None:
        self.store.replay("v", self.now)

    @invariant()
    def every_event_is_accounted_for(self) -> None:
        pending = {e["id"] for _, e in self.store.oldest("v", 10_000)}
        dead = {letter["event_id"] for letter in self.store.dead_letters("v", 10_000)}
        delivered = set(self.vendor.accepted)
        stats = self.store.stats(self.now).get("v", {})
        dropped = stats.get("dropped_full", 0) + stats.get("dropped_expired", 0)
        assert not pending & dead
        unaccounted = self.enqueued - pending - dead - delivered
        assert len(unaccounted) <= dropped
        assert self.store.count("v") <= self.bounds.max_events
        # The bounds use running counters instead of COUNT scans: they must match the table.
        actual = self.sql.exec(
            "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM queued_events WHERE vendor = 'v'"
        )[0]
        assert self.store._pending("v") == (actual["n"], actual["b"])  # noqa: SLF001


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
