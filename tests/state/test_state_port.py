"""The shared-state port's contract, on both backends: a real SQLite file and a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from edgesplit.state import ClusterCounts, CountBatch, StatePort, StateUnavailable, open_state
from edgesplit.state.port import Changes
from edgesplit.state.redis_state import RedisState
from edgesplit.state.snapshot import Snapshot

HOUR = 3600


@pytest.fixture(params=["sqlite", "redis"])
async def state(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StatePort]:
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'shared.sqlite3'}"
    else:
        url = request.getfixturevalue("redis_server").url
    store = open_state(url, time.time)
    try:
        yield store
    finally:
        await store.close()


def row(
    experiment: str, variant: str, when: float, **amounts: float
) -> tuple[str, str, float, dict[str, float]]:
    return (experiment, variant, when, amounts)


async def test_counts_add_up_per_variant_and_hour_and_a_resent_batch_counts_once(state: StatePort) -> None:
    now = time.time()
    earlier = now - 2 * HOUR
    await state.add_counts(
        CountBatch(
            "p1",
            1,
            [
                row("e", "a", earlier, exposures=3, requests=3, latency_ms=30.0),
                row("e", "b", now, exposures=1),
            ],
        )
    )
    await state.add_counts(CountBatch("p2", 1, [row("e", "a", now, exposures=2, conversions=1, errors=1)]))
    await state.add_counts(CountBatch("p1", 1, [row("e", "a", now, exposures=100)]))  # resent: ignored
    await state.add_counts(CountBatch("p1", 2, [row("e", "b", now, exposures=4)]))
    counts = await state.read(["e", "other"], now)
    assert counts.totals["e"]["a"]["exposures"] == 5 and counts.totals["e"]["b"]["exposures"] == 5
    assert counts.totals["e"]["a"]["conversions"] == 1 and counts.totals["e"]["a"]["errors"] == 1
    assert counts.totals["e"]["a"]["latency_ms"] == pytest.approx(30.0)
    assert counts.totals["other"] == {}
    hours = {(bucket, variant): amounts["exposures"] for bucket, variant, amounts in counts.hours["e"]}
    bucket_now, bucket_then = int(now // HOUR) * HOUR, int(earlier // HOUR) * HOUR
    assert hours == {(bucket_then, "a"): 3, (bucket_now, "a"): 2, (bucket_now, "b"): 5}
    store = Snapshot(counts).store
    totals = store.totals("e")
    assert (totals["a"].exposures, totals["a"].requests, totals["b"].exposures) == (5, 3, 5)
    series = {(r["bucket"], r["variant"]): r["exposures"] for r in store.series("e", now - 48 * HOUR)}
    assert series == hours


async def test_one_lease_holder_per_ttl_and_a_stale_holder_cannot_write(state: StatePort) -> None:
    assert await state.seed_config('{"v": 1}')
    first = await state.acquire_lease("p1", 0.3)
    assert first is not None
    assert await state.acquire_lease("p2", 0.3) is None
    deadline = time.monotonic() + 30
    second = None
    while second is None and time.monotonic() < deadline:  # wait for the first lease to expire
        await asyncio.sleep(0.05)
        second = await state.acquire_lease("p2", 30)
    assert second is not None and second.token > first.token
    stale = Changes(state={"e": {"x": 1.0}}, history={"e": [{"at": 1.0, "kind": "paused", "detail": {}}]})
    assert not await state.commit(first, stale, '{"v": "stale"}', 1)  # paused past its lease: fenced
    counts = await state.read(["e"], time.time())
    assert counts.state["e"] == {} and counts.history["e"] == []
    assert await state.config() == (1, '{"v": 1}')
    fresh = Changes(
        state={"e": {"x": 2.0}}, history={"e": [{"at": 2.0, "kind": "weights", "detail": {"w": [1]}}]}
    )
    assert await state.commit(second, fresh, '{"v": 2}', 1)
    counts = await state.read(["e"], time.time())
    assert counts.state["e"] == {"x": 2.0}
    assert counts.history["e"] == [{"at": 2.0, "kind": "weights", "detail": {"w": [1]}}]
    assert await state.config() == (2, '{"v": 2}')


async def test_a_commit_against_a_changed_document_writes_nothing(state: StatePort) -> None:
    await state.seed_config("one")
    lease = await state.acquire_lease("p1", 30)
    assert lease is not None
    assert await state.push_config("pushed by a person") == 2
    assert not await state.commit(lease, Changes(state={"e": {"x": 1.0}}), "from the updater", 1)
    assert await state.config() == (2, "pushed by a person")
    assert (await state.read(["e"], time.time())).state["e"] == {}
    assert not await state.seed_config("late seed")  # a document exists: seeding is a no-op
    assert await state.config_version() == 2


async def test_reports_expire_and_silent_proxies_are_forgotten(state: StatePort) -> None:
    now = time.time()
    await state.report("live", {"behind": False}, now, 60)
    await state.report("expired", {"behind": True}, now, 0.2)
    await state.report("gone", {"behind": False}, now - 500, 1)
    deadline = time.monotonic() + 30
    reports = await state.reports(time.time(), forget_after=100)
    while reports.get("expired") is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        reports = await state.reports(time.time(), forget_after=100)
    assert reports == {"live": {"behind": False}, "expired": None}
    await state.leave("live")
    assert await state.reports(time.time(), forget_after=100) == {"expired": None}


async def test_history_and_state_survive_the_snapshot_round_trip() -> None:
    counts = ClusterCounts(
        totals={"e": {"a": {"exposures": 10.0}}},
        state={"e": {"errors:b": 0.5}},
        history={
            "e": [{"at": 2.0, "kind": "weights", "detail": {}}, {"at": 1.0, "kind": "paused", "detail": {}}]
        },
    )
    snapshot = Snapshot(counts)
    assert snapshot.store.history("e") == counts.history["e"]
    snapshot.store.record("e", 3.0, "paused", {"reason": "x"})
    snapshot.store.save_state("e", {"srm_p": 0.9})
    changes = snapshot.changes()
    assert changes.history == {"e": [{"at": 3.0, "kind": "paused", "detail": {"reason": "x"}}]}
    assert changes.state == {"e": {"errors:b": 0.5, "srm_p": 0.9}}


async def test_a_redis_that_does_not_answer_is_unavailable_within_the_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    store = open_state(f"redis://127.0.0.1:{port}/0", time.time)
    try:
        with pytest.raises(StateUnavailable):
            await store.add_counts(CountBatch("p", 1, [row("e", "a", time.time(), exposures=1)]))
        with pytest.raises(StateUnavailable):
            await store.acquire_lease("p", 1)
    finally:
        await store.close()
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_a_commit_meeting_a_clobbered_key_writes_nothing_at_all(redis_server: RedisServer) -> None:
    """Redis does not roll a failing script back: every key is checked before the first write."""
    state = open_state(redis_server.url, time.time)
    try:
        await state.seed_config("one")
        lease = await state.acquire_lease("p1", 30)
        assert lease is not None
        assert isinstance(state, RedisState)
        await state.redis.set(state.key("history", "z"), "not a list")
        changes = Changes(
            state={"a": {"x": 1.0}},
            history={
                "a": [{"at": 1.0, "kind": "paused", "detail": {}}],
                "z": [{"at": 1.0, "kind": "paused", "detail": {}}],
            },
        )
        with pytest.raises(StateUnavailable, match="nothing was written"):
            await state.commit(lease, changes, "two", 1)
        counts = await state.read(["a"], time.time())
        assert counts.state["a"] == {} and counts.history["a"] == []
        assert await state.config() == (1, "one")
    finally:
        await state.close()


@pytest.mark.parametrize(
    "url", ["ftp://user:hunter2@host/", "sqlite://relative.db", "", "hunter2", "sqlite:///"]
)
def test_a_bad_state_url_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="--state") as caught:
        open_state(url, time.time)
    assert "hunter2" not in str(caught.value)
