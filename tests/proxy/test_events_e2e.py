"""Events end to end: direct delivery, outage and recovery, dead letters, conversions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from local_stack import until

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.core.events import exposure_event
from edgesplit.proxy.service import ProxyOptions, ProxyService
from edgesplit.proxy.vendor_sim import VendorSimulator
from edgesplit.queue.drain import DrainPolicy
from servers import CONFIG, KEYRING, TestOrigin, start_app

BROWSER = {"User-Agent": "Mozilla/5.0 Firefox/130.0"}
CONFIG_OBJ = load_config(CONFIG)
FAST_DRAIN = DrainPolicy(pace_seconds=0.05, base_backoff_seconds=0.05, max_backoff_seconds=0.3)


def expected_exposure_ids(visitor: str, path: str, now: float) -> set[str]:
    return {
        exposure_event(visitor, key, a.variant, CONFIG_OBJ.version, now, 1800)["id"]
        for key, a in assign(CONFIG_OBJ, visitor, {"path": path}).items()
        if a.in_experiment and a.variant
    }


@dataclass
class EventStack:
    service: ProxyService
    vendor: VendorSimulator
    vendor_base: str
    base: str
    client: aiohttp.ClientSession

    async def mode(self, mode: str, **extra: Any) -> None:
        async with self.client.post(f"{self.vendor_base}/__sim/mode", json={"mode": mode, **extra}) as resp:
            assert resp.status == 200

    async def visit(self, path: str, visitor: str) -> tuple[int, float]:
        started = time.monotonic()
        async with self.client.get(
            self.base + path, headers={**BROWSER, "Cookie": f"edgesplit_id={visitor}"}
        ) as resp:
            await resp.read()
            return resp.status, time.monotonic() - started

    async def wait_for(self, predicate, timeout: float = 20.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; vendor saw {self.vendor.stats()}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[EventStack]:
    origin, vendor = TestOrigin(), VendorSimulator()
    origin_runner, origin_port = await start_app(origin.app())
    vendor_runner, vendor_port = await start_app(vendor.app())
    vendor_base = f"http://127.0.0.1:{vendor_port}"
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}",
        port=0,
        vendor_url=f"{vendor_base}/batch",
        queue_dir=str(tmp_path / "queue"),
        queue_shards=3,
        direct_timeout=0.5,
        breaker_cooldown=0.2,
        drain_policy=FAST_DRAIN,
    )
    service = ProxyService(options, CONFIG_OBJ, KEYRING)
    await service.start()
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        yield EventStack(service, vendor, vendor_base, f"http://127.0.0.1:{service.port}", client)
    finally:
        await client.close()
        await service.stop()
        await vendor_runner.cleanup()
        await origin_runner.cleanup()


async def test_healthy_vendor_gets_each_exposure_once_directly(events: EventStack) -> None:
    want: set[str] = set()
    for n in range(30):
        for _ in range(3):  # repeat views within the dedup window: one exposure each
            await events.visit("/page/shop-x", f"healthy-{n:04d}")
        want |= expected_exposure_ids(f"healthy-{n:04d}", "/page/shop-x", time.time())

    def delivered() -> float:
        return events.service.metrics.value(
            "edgesplit_events_delivered_total", vendor="default", path="direct"
        )

    # The vendor stores a batch before the proxy reads its answer and counts it: wait for both.
    await events.wait_for(lambda: len(events.vendor.events) >= len(want) and delivered() >= len(want))
    assert set(events.vendor.events) == want and events.vendor.duplicates == 0
    assert delivered() == len(want)
    assert (
        events.service.queue is not None
        and events.service.queue.stats()["shard-0"].get("default", {}).get("depth", 0) == 0
    )


async def test_outage_under_traffic_then_recovery_delivers_every_event_exactly_once(
    events: EventStack,
) -> None:
    want: set[str] = set()
    await events.mode("down")
    latencies = []

    def queued(reason: str) -> float:
        return events.service.metrics.value("edgesplit_events_queued_total", vendor="default", reason=reason)

    # Continuous traffic through the outage, until batches find the breaker open: its cooldown
    # doubles with each failure (0.2 s here), so it soon outlasts the 250 ms a batch lingers,
    # however fast or slow this machine sends the requests.
    n = 0
    while n < 120 or not queued("breaker_open"):
        assert n < 2000, "no batch ever found the breaker open"
        status, seconds = await events.visit(f"/page/shop-{n % 4}", f"outage-{n:04d}")
        assert status == 200
        latencies.append(seconds)
        want |= expected_exposure_ids(f"outage-{n:04d}", f"/page/shop-{n % 4}", time.time())
        n += 1
    assert queued("direct_failed") > 0
    await events.mode("healthy")
    queue = events.service.queue
    assert queue is not None

    def queue_depth() -> int:
        return sum(shard.get("default", {}).get("depth", 0) for shard in queue.stats().values())

    # Recovered: the direct path and the queue's drain both deliver; wait for both to finish.
    await events.wait_for(lambda: want <= set(events.vendor.events) and queue_depth() == 0, 60)
    assert set(events.vendor.events) == want  # after dedup by idempotency key: each exactly once
    # The request path never waited on the vendor: no request took as long as one direct attempt's
    # timeout (0.5 s), though the vendor dropped every connection.
    assert max(latencies) < 0.5, max(latencies)


async def test_slow_vendor_never_slows_requests(events: EventStack) -> None:
    await events.mode("slow", delay=3.0)
    timings = [(await events.visit("/page/home", f"slow-{n:04d}"))[1] for n in range(20)]
    assert max(timings) < 1.0, timings  # the vendor takes 3 s per batch


async def test_throttling_is_honoured(events: EventStack) -> None:
    await events.mode("throttle", retry_after=2)
    for n in range(10):
        await events.visit("/page/home", f"throttle-{n:04d}")
    await asyncio.sleep(1.0)
    throttled = events.vendor.requests["throttle"]
    assert throttled <= 4, events.vendor.requests  # not hammered while Retry-After runs
    await events.mode("healthy")
    await events.wait_for(lambda: len(events.vendor.events) >= 10)


async def test_poison_events_land_in_dead_letters_and_replay(events: EventStack) -> None:
    await events.mode("reject")
    await events.visit("/page/home", "poison-0001")
    queue = events.service.queue
    assert queue is not None
    await events.wait_for(lambda: any(store.dead_letters() for store in queue.stores))
    [letter] = [letter for store in queue.stores for letter in store.dead_letters()]
    assert letter["reason"].startswith("HTTP 400") and letter["event"]["visitor_id"] == "poison-0001"
    await events.mode("healthy")
    for index, store in enumerate(queue.stores):
        if store.replay(None, time.time()):
            queue.arm(index, time.time())
    await events.wait_for(lambda: len(events.vendor.events) == 1)


async def test_metrics_report_the_queue(events: EventStack) -> None:
    await events.mode("error")
    await events.visit("/page/home", "metrics-0001")
    text = ""

    async def queued() -> bool:
        nonlocal text
        async with events.client.get(events.base + "/__edgesplit/metrics") as resp:
            text = await resp.text()
        return 'edgesplit_queue_depth{shard="shard-' in text

    await until(queued)
    assert 'edgesplit_queue_depth{shard="shard-' in text and 'vendor="default"' in text
    assert "edgesplit_queue_oldest_age_seconds" in text


async def decision_cookie(events: EventStack, visitor: str) -> str:
    async with events.client.get(
        events.base + "/page/shop-convert", headers={**BROWSER, "Cookie": f"edgesplit_id={visitor}"}
    ) as resp:
        await resp.read()
        cookies = resp.headers.getall("Set-Cookie")
    [cookie] = [c for c in cookies if c.startswith("edgesplit_decision=")]
    assert "HttpOnly" not in cookie  # the page's scripts may read it
    return cookie.split(";")[0].split("=", 1)[1]


async def test_conversions_need_a_valid_token_and_reach_the_vendor(events: EventStack) -> None:
    token = await decision_cookie(events, "buyer-0001")
    track = events.base + "/__edgesplit/track"
    an_hour_ago = datetime.now(timezone(timedelta(hours=1))).replace(microsecond=0) - timedelta(hours=1)
    body = {"event": "purchase", "value": 42.5, "timestamp": an_hour_ago.isoformat(), "id": "order-1"}
    async with events.client.post(
        track, json=body, headers={"Cookie": f"edgesplit_decision={token}"}
    ) as resp:
        assert resp.status == 202, await resp.text()
        accepted = (await resp.json())["accepted"]
    async with events.client.post(track, json={**body, "token": token}) as resp:  # a retry: same id
        assert (await resp.json())["accepted"] == accepted
    await events.wait_for(lambda: accepted in events.vendor.events)
    conversion = events.vendor.events[accepted]
    assert conversion["visitor_id"] == "buyer-0001" and conversion["timestamp"] == an_hour_ago.astimezone(
        UTC
    ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert set(conversion["assignments"]) == {"hero", "shop"} and conversion["value"] == 42.5


@pytest.mark.parametrize(
    "body,status,reason",
    [
        ({"event": "purchase"}, 401, "token: a decision token is required"),
        ({"event": "purchase", "token": "es1.test-key.e30.AAAA"}, 401, "token: bad_signature"),
        ({"event": "purchase", "token": "garbage"}, 401, "token: malformed"),
        ({"value": 3}, 400, "event: required"),
        ({"event": "x" * 101}, 400, "event: required"),
        ({"event": "buy", "value": "NaN"}, 400, "value: must be a finite number"),
        ({"event": "buy", "timestamp": "2026-11-24T01:00:00"}, 400, "timestamp: needs a time zone"),
        ({"event": "buy", "timestamp": "yesterday"}, 400, "timestamp: not ISO 8601"),
        ({"event": "buy", "timestamp": "2001-01-01T00:00:00Z"}, 400, "timestamp: more than 7 days old"),
        ({"event": "buy", "extra": 1}, 400, "unknown field 'extra'"),
        ([], 400, "body must be a JSON object"),
    ],
)
async def test_bad_track_requests_are_refused_with_the_reason(
    events: EventStack, body: Any, status: int, reason: str
) -> None:
    async with events.client.post(events.base + "/__edgesplit/track", data=json.dumps(body)) as resp:
        assert resp.status == status
        assert (await resp.json())["error"].startswith(reason)
    if status == 401:
        assert sum(events.service.metrics.counters["edgesplit_tokens_rejected_total"].values()) == 1
    assert not any(e.get("type") == "conversion" for e in events.vendor.events.values())


async def test_track_refuses_other_methods_and_huge_bodies(events: EventStack) -> None:
    async with events.client.get(events.base + "/__edgesplit/track") as resp:
        assert resp.status == 405
    async with events.client.post(events.base + "/__edgesplit/track", data=b"x" * 20000) as resp:
        assert resp.status == 413


async def test_fan_out_to_webhook_posthog_and_segment_each_in_its_format(tmp_path: Path) -> None:
    origin = TestOrigin()
    sims = {name: VendorSimulator() for name in ("webhook", "posthog", "segment")}
    runners = [await start_app(origin.app())] + [await start_app(sim.app()) for sim in sims.values()]
    ports = [port for _, port in runners]
    vendors = [
        {
            "name": "warehouse",
            "kind": "webhook",
            "url": f"http://127.0.0.1:{ports[1]}/batch",
            "auth_header": "authorization",
            "auth_value": "Bearer t",
        },
        {
            "name": "posthog",
            "kind": "posthog",
            "api_key": "phc_test",
            "host": f"http://127.0.0.1:{ports[2]}/posthog",
        },
        {
            "name": "segment",
            "kind": "segment",
            "write_key": "wk",
            "host": f"http://127.0.0.1:{ports[3]}/segment",
        },
    ]
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{ports[0]}", port=0, vendors=vendors, queue_dir=str(tmp_path)
    )
    service = ProxyService(options, CONFIG_OBJ, KEYRING)
    await service.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            for n in range(10):
                async with client.get(
                    f"http://127.0.0.1:{service.port}/page/shop-fan",
                    headers={**BROWSER, "Cookie": f"edgesplit_id=fan-{n:04d}"},
                ) as resp:
                    await resp.read()
        deadline = time.monotonic() + 10
        while any(len(sim.events) < 20 for sim in sims.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for name, sim in sims.items():
            assert len(sim.events) == 20 and sim.requests[f"format:{name}"] >= 1, (name, sim.stats())
            assert sum(sim.stats()["exposures"]["hero"].values()) == 10
    finally:
        await service.stop()
        for runner, _ in runners:
            await runner.cleanup()
