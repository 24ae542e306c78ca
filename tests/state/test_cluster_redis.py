"""Three proxies behind a round-robin share one real Redis: the guardrail acts once, on the
cluster's numbers, and every proxy applies it; a bandit's weights agree everywhere; a Redis
crash mid-run loses no counts; a silent Redis never holds a request up."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cluster import document, start_cluster, wait_for
from redis_server import RedisServer

from edgesplit.state import open_state
from edgesplit.state.runner import SharedGuardrailRunner

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"

FRAGILE = document(
    "guard-1", "fragile", ["/fragile"], guardrails={"min_sample": 100, "metrics": ["errors"], "alpha": 0.01}
)
SAME = document(
    "aa-1", "same", ["/nocache/**"], guardrails={"min_sample": 50, "metrics": ["errors"], "alpha": 0.01}
)


async def cluster_counts(url: str, experiment: str) -> dict[str, dict[str, float]]:
    state = open_state(url, time.time)
    try:
        return (await state.read([experiment], time.time())).totals[experiment]
    finally:
        await state.close()


async def cluster_history(url: str, experiment: str) -> list[dict[str, Any]]:
    state = open_state(url, time.time)
    try:
        return (await state.read([experiment], time.time())).history[experiment]
    finally:
        await state.close()


async def test_one_proxy_on_sqlite_and_three_on_redis_reach_the_same_decision(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Same traffic, updater run by hand after it: one proxy on today's SQLite and three proxies
    sharing Redis pause on identical numbers; the two other proxies do not act at all."""
    decisions = []
    for name, count, url in (("single", 1, None), ("cluster", 3, redis_server.url)):
        cluster, stop = await start_cluster(tmp_path / name, FRAGILE, count, url, interval=3600)
        try:
            statuses = [(await cluster.get("/fragile", f"visitor-{n:05d}"))[0] for n in range(400)]
            assert statuses.count(500) > 100
            for service in cluster.services:
                await service.guardrails.flush(time.time())
            update = await cluster.services[0].guardrails.tick()
            for other in cluster.services[1:]:
                assert not await other.guardrails.tick()  # the lease is taken for this interval
            decisions.append(update.pauses["fragile"])
            await wait_for(
                lambda cluster=cluster: all(e.status == "paused" for e in cluster.experiments("fragile")),
                "every proxy to apply the pause",
            )
        finally:
            await stop()
    single, shared = decisions
    assert single["reason"] == shared["reason"] and "errors harm in variant 'b'" in shared["reason"]
    assert single["numbers"] == shared["numbers"]
    assert shared["numbers"]["totals"]["b"]["errors"] == shared["numbers"]["totals"]["b"]["requests"] > 100
    assert [item["kind"] for item in await cluster_history(redis_server.url, "fragile")] == ["paused"]


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
async def test_a_harmful_variant_is_paused_once_for_the_whole_cluster(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Both backends of the port, through the same runner: Redis, and one SQLite file shared by
    three proxy processes' worth of connections on one machine."""
    if backend == "redis":
        url = request.getfixturevalue("redis_server").url
    else:
        url = f"sqlite://{tmp_path / 'shared.sqlite3'}"
    cluster, stop = await start_cluster(tmp_path, FRAGILE, 3, url, interval=0.3)
    try:
        for n in range(3000):
            await cluster.get("/fragile", f"before-{n:06d}")
            if any(e.status == "paused" for e in cluster.experiments("fragile")):
                break
            if n % 60 == 59:
                await asyncio.sleep(0.1)  # let the updaters look
        await wait_for(
            lambda: all(e.status == "paused" for e in cluster.experiments("fragile")),
            "every proxy to apply the pause",
        )
        pauses = [e.pause for e in cluster.experiments("fragile")]
        assert pauses[0] == pauses[1] == pauses[2] and "errors harm in variant 'b'" in pauses[0]["reason"]
        for n in range(30):  # every proxy now serves the control
            status, body = await cluster.get("/fragile", f"after-{n:06d}")
            assert status == 200 and body["assignments"] == {"fragile": "a"}
        passes = cluster.total("edgesplit_guardrail_updates_total")
        await wait_for(  # several more update passes, by any proxy, before looking
            lambda: cluster.total("edgesplit_guardrail_updates_total") >= passes + 3,
            "three more update passes",
        )
        history = await cluster_history(url, "fragile")
        assert [item["kind"] for item in history] == ["paused"]  # acted once, not once per proxy
        totals = pauses[0]["numbers"]["totals"]
        per_proxy = [
            s.metrics.value("edgesplit_guardrail_pauses_total", experiment="fragile")
            for s in cluster.services
        ]
        assert sorted(per_proxy) == [0, 0, 1]
        assert totals["a"]["requests"] + totals["b"]["requests"] > 100  # the cluster's numbers, not a third
        result = await asyncio.to_thread(
            subprocess.run,
            [
                EDGESPLIT,
                "status",
                "--config",
                str(tmp_path / "proxy-1" / "config.json"),
                "--state",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)["experiments"][0]
        assert report["status"] == "paused" and [item["kind"] for item in report["history"]] == ["paused"]
        b = next(v for v in report["variants"] if v["key"] == "b")
        assert b["errors"] == b["requests"] >= totals["b"]["requests"]  # the cluster's, from the shared store
    finally:
        await stop()


async def test_an_aa_run_through_a_redis_crash_counts_every_request_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis is SIGKILLed and restarted mid-run: requests keep being served, counts wait in each
    proxy and are flushed once it is back; the cluster's totals equal the requests sent, and an
    A/A experiment is never paused."""
    cluster, stop = await start_cluster(tmp_path, SAME, 3, redis_server.url, interval=0.3)
    try:
        for n in range(150):
            status, _ = await cluster.get(f"/nocache/page-{n % 7}", f"visitor-{n:06d}")
            assert status == 200
        redis_server.kill()
        for n in range(150, 300):  # Redis is down: served all the same
            status, body = await cluster.get(f"/nocache/page-{n % 7}", f"visitor-{n:06d}")
            assert status == 200 and body["assignments"]["same"] in ("a", "b")
        await wait_for(
            lambda: all(s.guardrails.behind for s in cluster.services), "every proxy to notice Redis is gone"
        )
        assert cluster.total("edgesplit_state_unavailable_total", step="counts") >= 3
        redis_server.start()  # same port, same append-only file
        for n in range(300, 360):
            await cluster.get(f"/nocache/page-{n % 7}", f"visitor-{n:06d}")

        async def all_counted() -> bool:
            totals = await cluster_counts(redis_server.url, "same")
            return sum(v.get("requests", 0) for v in totals.values()) == 360

        await wait_for(all_counted, "every request counted in Redis")
        totals = await cluster_counts(redis_server.url, "same")
        assert sum(v["exposures"] for v in totals.values()) == 360  # distinct visitors: one exposure each
        assert totals["a"]["requests"] > 100 and totals["b"]["requests"] > 100
        passes = cluster.total("edgesplit_guardrail_updates_total")
        await wait_for(
            lambda: cluster.total("edgesplit_guardrail_updates_total") >= passes + 2, "update passes"
        )
        assert all(e.status == "running" for e in cluster.experiments("same"))
        assert await cluster_history(redis_server.url, "same") == []
        assert not any(s.guardrails.behind for s in cluster.services)
    finally:
        await stop()


BANDIT = document(
    "bandit-1",
    "arm",
    ["/nocache/**"],
    bandit={"min_weight": 0.05, "max_weight": 0.95, "update_interval_seconds": 3600},
)


async def test_a_bandit_moves_once_per_its_interval_and_every_proxy_applies_the_same_weights(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster, stop = await start_cluster(tmp_path, BANDIT, 3, redis_server.url, interval=0.3)
    try:
        n = 0

        async def moves() -> int:
            nonlocal n
            for _ in range(10):
                await cluster.get("/nocache/shop", f"visitor-{n:06d}")
                n += 1
            history = await cluster_history(redis_server.url, "arm")
            return sum(1 for item in history if item["kind"] == "weights")

        await wait_for(moves, "the first bandit move")
        passes = cluster.total("edgesplit_guardrail_updates_total")
        await wait_for(
            lambda: cluster.total("edgesplit_guardrail_updates_total") >= passes + 4, "more passes"
        )
        assert await moves() == 1  # the bandit's clock is shared: no proxy moves again within the interval
        state = open_state(redis_server.url, time.time)
        try:
            published = await state.config()
        finally:
            await state.close()
        assert published is not None

        def weights_everywhere() -> list[list[float]]:
            return [[v.weight for v in e.variants] for e in cluster.experiments("arm")]

        await wait_for(
            lambda: len({tuple(w) for w in weights_everywhere()}) == 1, "one set of weights everywhere"
        )
        weights = weights_everywhere()[0]
        assert weights != [0.5, 0.5] and abs(sum(weights) - 1.0) < 1e-6
        assert all(0.05 - 1e-9 <= w <= 0.95 + 1e-9 for w in weights)
    finally:
        await stop()


async def test_no_update_while_a_proxy_that_was_cut_off_has_counts_outside(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Harmful numbers are in Redis, but a second proxy's report has expired (cut off, its counts
    not in): the lease holder does not act on partial data; once it is back and flushed, it acts."""
    cluster, stop = await start_cluster(tmp_path, FRAGILE, 1, redis_server.url, interval=0.2)
    partitioned = SharedGuardrailRunner(
        open_state(redis_server.url, time.time),
        cluster.services[0].holder,
        None,
        cluster.services[0].clock,
        cluster.services[0].metrics,
        poll_interval=0.1,
        proxy_id="cut-off",
    )
    try:
        await partitioned.step()  # reported once (not behind), then cut off with counts it cannot deliver
        reachable = partitioned.state
        partitioned.state = open_state("redis://127.0.0.1:1/0", time.time)  # nothing listens there
        partitioned.recorder.restore([("fragile", "a", time.time(), {"requests": 5.0, "exposures": 5.0})])
        await partitioned.step()
        assert partitioned.behind
        runner = cluster.services[0].guardrails

        async def report_expired() -> bool:
            return (await runner.state.reports(time.time(), runner.forget_after)).get("cut-off", {}) is None

        await wait_for(report_expired, "the cut-off proxy's report to expire")
        for n in range(400):
            await cluster.get("/fragile", f"visitor-{n:05d}")
        skipped = runner.metrics.value("edgesplit_guardrail_updates_skipped_total", reason="partial_counts")
        await wait_for(
            lambda: (
                runner.metrics.value("edgesplit_guardrail_updates_skipped_total", reason="partial_counts")
                >= skipped + 2
            ),
            "update passes skipped on partial counts",
        )
        assert cluster.experiments("fragile")[0].status == "running"
        assert await cluster_history(redis_server.url, "fragile") == []
        await partitioned.state.close()
        partitioned.state = reachable  # back: its counts go in, then the cluster may act
        await partitioned.step()
        assert not partitioned.behind

        await wait_for(
            lambda: cluster.experiments("fragile")[0].status == "paused", "the pause once complete"
        )
        totals = (await cluster_counts(redis_server.url, "fragile"))["a"]
        assert (
            totals["requests"]
            == cluster.experiments("fragile")[0].pause["numbers"]["totals"]["a"]["requests"]
        )
    finally:
        await partitioned.stop()
        await stop()


async def test_a_silent_redis_never_holds_a_request_up(tmp_path: Path) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    url = f"redis://127.0.0.1:{silent.sockets[0].getsockname()[1]}/0"
    cluster, stop = await start_cluster(tmp_path, SAME, 2, url, interval=0.3)
    try:
        for n in range(40):
            status, body = await cluster.get(f"/nocache/p{n}", f"visitor-{n:06d}")
            assert status == 200 and body["verified"]
        await wait_for(
            lambda: cluster.total("edgesplit_state_unavailable_total", step="counts") >= 2,
            "the failures counted",
        )
        assert all(s.guardrails.behind for s in cluster.services)
        assert cluster.total("edgesplit_requests_total", outcome="proxied") == 40
    finally:
        await stop()
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_every_proxys_status_page_shows_the_cluster_numbers_and_each_proxy(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """The vendor is down: each proxy keeps its events in its own disk queue, and every status
    page shows the cluster's counts, every proxy and its queue depth, and their sum."""
    cluster, stop = await start_cluster(
        tmp_path,
        SAME,
        3,
        redis_server.url,
        interval=3600,
        admin_token="s3cret-admin-token-for-the-cluster-tests",
        vendor_url="http://127.0.0.1:1/batch",  # nothing listens there
    )
    try:
        for n in range(90):
            await cluster.get(f"/nocache/p{n}", f"visitor-{n:06d}")

        def queued(service: Any) -> int:
            return sum(v["depth"] for shard in service.queue.stats().values() for v in shard.values())

        await wait_for(lambda: all(queued(s) > 0 for s in cluster.services), "events queued on every proxy")
        headers = {"Authorization": "Bearer s3cret-admin-token-for-the-cluster-tests"}
        pages: list[dict[str, Any]] = []

        async def every_page_shows_every_proxy_in() -> bool:
            pages.clear()
            for service in cluster.services:
                base = f"http://127.0.0.1:{service.port}/__edgesplit"
                async with cluster.client.get(f"{base}/status.json", headers=headers) as resp:
                    assert resp.status == 200
                    pages.append(await resp.json())
            return all(
                len(page["proxies"]) == 3
                and all(
                    p is not None and not p["behind"] and p["depth"] > 0 for p in page["proxies"].values()
                )
                and sum(v["requests"] for v in page["experiments"][0]["variants"]) == 90  # every proxy's
                for page in pages
            )

        await wait_for(
            every_page_shows_every_proxy_in, "every status page to show the cluster and its proxies"
        )
        for page in pages:
            assert sorted(page["proxies"]) == sorted(s.guardrails.proxy for s in cluster.services)
            assert page["queue"]["depth"] == sum(p["depth"] for p in page["proxies"].values())
        async with cluster.client.get(
            f"http://127.0.0.1:{cluster.services[1].port}/__edgesplit/status.json"
        ) as resp:
            assert resp.status in (401, 403)  # the cluster's numbers are not public
        async with cluster.client.get(
            f"http://127.0.0.1:{cluster.services[0].port}/__edgesplit/status", headers=headers
        ) as resp:
            html = await resp.text()
        assert "<h2>Proxies</h2>" in html and cluster.services[2].guardrails.proxy in html
    finally:
        await stop()


def push(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGESPLIT, "config", "push", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


async def test_config_push_reaches_every_proxy_and_an_invalid_document_is_refused_with_its_path(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster, stop = await start_cluster(tmp_path, SAME, 3, redis_server.url, interval=3600)
    try:
        await wait_for(lambda: all(s.guardrails.applied_version == 1 for s in cluster.services), "the seed")
        broken = json.loads(json.dumps(SAME))
        broken["experiments"][0]["variants"][1]["weight"] = -1
        (tmp_path / "broken.json").write_text(json.dumps(broken))
        result = await asyncio.to_thread(push, str(tmp_path / "broken.json"), "--state", redis_server.url)
        assert result.returncode == 1 and "experiments[0].variants[1].weight" in result.stderr
        (tmp_path / "garbage.json").write_text("{not json")
        result = await asyncio.to_thread(push, str(tmp_path / "garbage.json"), "--state", redis_server.url)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        paused = json.loads(json.dumps(SAME))
        paused["version"] = "aa-2"
        paused["experiments"][0]["status"] = "paused"
        (tmp_path / "paused.json").write_text(json.dumps(paused))
        result = await asyncio.to_thread(
            push, str(tmp_path / "paused.json"), env={"EDGESPLIT_STATE_URL": redis_server.url}
        )
        assert result.returncode == 0, result.stderr
        assert "version 2" in result.stdout  # the refused pushes stored nothing
        await wait_for(
            lambda: all(s.holder.current.version == "aa-2" for s in cluster.services), "every proxy on aa-2"
        )
        await wait_for(  # each proxy's last-known-good copy
            lambda: all(
                json.loads((tmp_path / f"proxy-{i}" / "config.json").read_text())["version"] == "aa-2"
                for i in range(3)
            ),
            "every proxy's file on aa-2",
        )
        down = await asyncio.to_thread(
            push, str(tmp_path / "paused.json"), "--state", "redis://127.0.0.1:1/0"
        )
        assert down.returncode == 1 and "redis" in down.stderr.lower()
        bad_url = await asyncio.to_thread(push, str(tmp_path / "paused.json"), "--state", "ftp://x")
        assert bad_url.returncode == 1 and "expected redis://" in bad_url.stderr
    finally:
        await stop()


async def test_a_document_written_to_redis_behind_the_validators_back_is_refused_by_every_proxy(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster, stop = await start_cluster(tmp_path, SAME, 2, redis_server.url, interval=3600)
    state = open_state(redis_server.url, time.time)
    try:
        await wait_for(lambda: all(s.guardrails.applied_version == 1 for s in cluster.services), "the seed")
        await state.push_config('{"schema_version": 1, "experiments": [{"key": "x"}]}')  # unvalidated write
        await wait_for(
            lambda: cluster.total("edgesplit_config_refused_total") == 2, "both proxies to refuse it"
        )
        assert all(s.holder.current.version == "aa-1" for s in cluster.services)  # the running config stays
        status, body = await cluster.get("/nocache/p", "visitor-000001")
        assert status == 200 and body["assignments"]["same"] in ("a", "b")
        on_disk = json.loads((tmp_path / "proxy-0" / "config.json").read_text())
        assert on_disk["version"] == "aa-1"  # the last-known-good copy is not overwritten
    finally:
        await state.close()
        await stop()
