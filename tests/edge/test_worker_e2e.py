"""The Worker's fetch path under Pyodide in Node: the self-hosted proxy's scenarios, at the edge."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from edge_support import Worker, get, py, wait_for_config, wait_until

from edgesplit import load_config
from edgesplit.core import assign, verify_token
from servers import CONFIG, DECISION_HEADER, KEYRING, MANIFESTS

CONFIG_OBJ = load_config(CONFIG)


def expected(visitor: str, path: str) -> dict[str, str]:
    return {
        k: a.variant for k, a in assign(CONFIG_OBJ, visitor, {"path": path}).items() if a.variant is not None
    }


def test_main_module_exports_the_entrypoint_and_durable_objects(worker: Worker) -> None:
    assert set(worker.control("exports")["exports"]) >= {"Counters", "Default", "QueueShard"}


def test_new_visitor_gets_a_cookie_and_a_stable_verified_assignment(worker: Worker) -> None:
    status, headers, body = get(worker, "/page/edge-home")
    [cookie] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_id=")]
    assert status == 200
    visitor = cookie.split(";")[0].split("=", 1)[1]
    assert body["verified"] and body["visitor_id"] == visitor
    assert body["assignments"] == expected(visitor, "/page/edge-home")
    [decision] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_decision=")]
    cookies = f"edgesplit_id={visitor}; {decision.split(';')[0]}"
    for _ in range(3):  # a returning browser sends both cookies back: nothing to set again
        _, again_headers, again = get(worker, "/page/edge-home", headers={"Cookie": cookies})
        assert again_headers["set-cookie-all"] == []
        assert again["assignments"] == body["assignments"]


def test_client_decision_header_is_stripped_and_the_origin_header_verifies(worker: Worker) -> None:
    forged = "es1.test-key.eyJhIjp7Imhlcm8iOiJib2xkIn19.AAAA"
    _, _, body = get(worker, "/echo", "visitor-abcdef12", {DECISION_HEADER: forged})
    assert body["decision_header"] != forged
    result = verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS)
    assert result.ok and result.claims is not None and result.claims.visitor_id == "visitor-abcdef12"
    assert dict(result.claims.assignments) == expected("visitor-abcdef12", "/echo")


def test_bots_get_control_without_cookie(worker: Worker) -> None:
    _, headers, body = get(worker, "/page/shop-edge-bot", headers={"User-Agent": "Googlebot/2.1"})
    assert "set-cookie" not in headers and body["assignments"] == {"hero": "control", "shop": "a"}


def test_per_variant_cache_without_leakage(worker: Worker) -> None:
    rng = random.Random(7)
    path = "/page/shop-edge-cache"
    before = worker.origin.fetches[path]
    leaks = []
    for _ in range(150):
        visitor = f"{rng.getrandbits(64):016x}"
        status, headers, body = get(worker, path, visitor)
        if status != 200 or body["assignments"] != expected(visitor, path):
            leaks.append(visitor)
    assert leaks == []
    # 2 hero variants x 3 shop variants: the origin rendered at most six pages for 150 visitors.
    assert worker.origin.fetches[path] - before <= 6
    cache = worker.control("cache")
    assert any("__edgesplit=hero%3A" in key for key in cache["keys"])
    assert all("visitor" not in key for key in cache["keys"])


def test_simultaneous_misses_in_one_isolate_wait_for_the_leaders_copy(worker: Worker) -> None:
    """Coalescing happens per isolate: followers are served the copy the leader stored."""
    path = "/page/edge-stampede"
    visitors = [f"edge-stampede-{n:03d}" for n in range(12)]
    variants = {expected(v, path)["hero"] for v in visitors}
    assert len(variants) == 2
    with ThreadPoolExecutor(len(visitors)) as pool:  # all arrive while the origin renders
        results = list(pool.map(lambda v: get(worker, f"{path}?delay=0.6", v), visitors))
    for visitor, (status, _, body) in zip(visitors, results, strict=True):
        assert status == 200 and body["assignments"]["hero"] == expected(visitor, path)["hero"]
    assert worker.origin.fetches[path] == len(variants)  # one render per variant, not per visitor
    outcomes = sorted(headers["x-edgesplit-cache"] for _, headers, _ in results)
    assert outcomes == ["HIT"] * (len(visitors) - 2) + ["MISS"] * 2


def test_variant_pages_reach_the_client_private(worker: Worker) -> None:
    get(worker, "/page/edge-private-check", "visitor-abcdef12")
    _, headers, _ = get(worker, "/page/edge-private-check", "visitor-abcdef12")
    assert headers["x-edgesplit-cache"] == "HIT" and headers["cache-control"] == "private, max-age=10"


def test_uncacheable_responses_are_never_served_from_cache(worker: Worker) -> None:
    for n in range(3):
        _, headers, body = get(worker, "/nocache/edge", "visitor-abcdef12")
        assert headers["x-edgesplit-cache"] == "BYPASS" and body["fetch"] == n + 1
    for _ in range(2):
        _, headers, _ = get(worker, "/cookie-page", "visitor-abcdef12")
        assert headers["x-edgesplit-cache"] == "BYPASS"


def _vendor_mode(worker: Worker, mode: str) -> None:
    request = urllib.request.Request(
        f"{worker.vendor_base}/__sim/mode", data=json.dumps({"mode": mode}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_events_go_straight_to_a_healthy_vendor(worker: Worker) -> None:
    before = len(worker.vendor.events)
    for n in range(10):
        get(worker, "/page/shop-direct", f"direct-visitor-{n:04d}")
    assert wait_until(lambda: len(worker.vendor.events) >= before + 20)  # hero and shop for each


def test_vendor_outage_queues_in_durable_objects_then_drains_exactly_once(worker: Worker) -> None:
    _vendor_mode(worker, "down")
    try:
        for n in range(30):
            status, _, _ = get(worker, "/page/shop-outage", f"outage-visitor-{n:04d}")
            assert status == 200
        worker.control("settle")
        queued = worker.control("queue")["shards"]
        depth = sum(v.get("depth", 0) for shard in queued.values() for v in shard.values())
        assert depth > 0, queued
    finally:
        _vendor_mode(worker, "healthy")
    want = {f"outage-visitor-{n:04d}" for n in range(30)}

    def delivered() -> set[str]:
        return {
            e["visitor_id"]
            for e in worker.vendor.events.values()
            if e.get("visitor_id", "").startswith("outage-")
        }

    assert wait_until(lambda: delivered() >= want, 30), worker.control("queue")
    exposures = [e for e in worker.vendor.events.values() if e.get("visitor_id", "").startswith("outage-")]
    assert len(exposures) == 60  # hero and shop for each visitor: each exactly once after dedup
    shards = worker.control("queue")["shards"]
    assert sum(v.get("depth", 0) for shard in shards.values() for v in shard.values()) == 0
    assert any(alarm["runs"] >= 1 for alarm in worker.control("queue")["alarms"])


def test_conversions_at_the_edge(worker: Worker) -> None:
    _, headers, _ = get(worker, "/page/shop-edge-convert", "edge-buyer-0001")
    [cookie] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_decision=")]
    token = cookie.split(";")[0].split("=", 1)[1]
    body = json.dumps({"event": "purchase", "value": 10, "id": "edge-order-1", "token": token}).encode()
    request = urllib.request.Request(worker.base + "/__edgesplit/track", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        accepted = json.loads(response.read())["accepted"]
    assert wait_until(lambda: accepted in worker.vendor.events)
    forged = urllib.request.Request(
        worker.base + "/__edgesplit/track",
        method="POST",
        data=json.dumps({"event": "purchase", "token": token[:-3] + "AAA"}).encode(),
    )
    try:
        urllib.request.urlopen(forged, timeout=30)
        raise AssertionError("a forged token was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 401


def test_origin_errors_give_502_and_504(worker: Worker) -> None:
    status, _, body = get(worker, "/slow")
    assert status == 504
    worker.control("env?name=EDGESPLIT_ORIGIN&value=http://127.0.0.1:1")
    try:
        status, _, _ = get(worker, "/page/edge-down", "visitor-abcdef12")
        assert status == 502
    finally:
        worker.control(f"env?name=EDGESPLIT_ORIGIN&value=http://127.0.0.1:{worker.origin_port}")


def test_config_from_kv_refreshes_and_a_bad_one_is_refused(worker: Worker) -> None:
    updated = json.loads(json.dumps(CONFIG))
    updated["version"] = "edge-2"
    worker.control("kv?key=config.json", "PUT", json.dumps(updated))
    wait_for_config(worker, "edge-2")  # EDGESPLIT_CONFIG_TTL is 1 s in miniworkerd
    worker.control(
        "kv?key=config.json", "PUT", '{"schema_version": 1, "version": "bad", "experiments": [{}]}'
    )
    assert wait_until(lambda: get(worker, "/__edgesplit/health")[2]["config_refused"] == 1)
    _, _, health = get(worker, "/__edgesplit/health")
    assert health["config_version"] == "edge-2"
    source_errors = (
        "import edgesplit.edge.worker as w\nw._STATE.metrics.value('edgesplit_config_source_errors_total')"
    )
    errors_before = py(worker, source_errors)
    worker.control("kv-failing?on=1")
    try:  # once the isolate has tried KV and failed, it still serves the last good config
        assert wait_until(
            lambda: get(worker, "/__edgesplit/health")[0] == 200 and py(worker, source_errors) > errors_before
        )
        status, _, health = get(worker, "/__edgesplit/health")
        assert status == 200 and health["config_version"] == "edge-2"
    finally:
        worker.control("kv-failing?on=0")


HERO_REQUESTS_COUNTED = (
    "import js, workers\n"
    "ns = workers.rpc._DurableObjectNamespaceWrapper(js._miniworkerd_env.COUNTERS)\n"
    "totals = await ns.get(ns.idFromName('counters')).totals('hero')\n"
    "sum(v['requests'] for v in totals.values())"
)
PENDING_COUNTS = "import edgesplit.edge.worker as w\nlen(w._state().recorder._pending)"


def test_scheduled_handler_sends_pending_counts_over_rpc(worker: Worker) -> None:
    """The cron's flush always has counts to send here, so the RPC path is taken on every run:
    it must use the SDK-wrapped ``self.env`` (the handler's ``env`` argument is raw JS, whose
    stubs refuse Python lists with DataCloneError)."""
    worker.control("scheduled", "POST")  # earlier tests' counts are sent first
    before = py(worker, HERO_REQUESTS_COUNTED)
    py(worker, "import edgesplit.edge.worker as w\nw._state().counts_flushed_at = float('inf')\n'ok'")
    try:  # the isolate holds its counts: only the cron sends them
        for n in range(5):
            get(worker, "/page/cron-counts", f"cron-counts-visitor-{n:03d}")
        worker.control("settle")
        assert py(worker, PENDING_COUNTS) > 0
        assert worker.control("scheduled", "POST") == {"ok": True}
    finally:
        py(worker, "import edgesplit.edge.worker as w\nw._state().counts_flushed_at = 0.0\n'ok'")
    assert py(worker, PENDING_COUNTS) == 0
    assert py(worker, HERO_REQUESTS_COUNTED) - before == 5


@pytest.mark.parametrize(
    "snippet,expected",
    [
        # RPC refuses tuples, even nested, as real Workers RPC does.
        (
            "from edgesplit.edge.js_adapters import *\nimport js\n"
            "ns = __import__('workers').rpc._DurableObjectNamespaceWrapper(js._miniworkerd_queue)\n"
            "stub = ns.get(ns.idFromName('contract'))\n"
            "try:\n    await stub.stats((1, 2))\n    outcome = 'accepted'\nexcept TypeError:\n    outcome = 'refused'\n"
            "outcome",
            "refused",
        ),
        # A custom object cannot be cloned across RPC either.
        (
            "import js\nns = __import__('workers').rpc._DurableObjectNamespaceWrapper(js._miniworkerd_queue)\n"
            "stub = ns.get(ns.idFromName('contract'))\nclass Custom: pass\n"
            "try:\n    await stub.stats([Custom()])\n    outcome = 'accepted'\nexcept Exception as e:\n"
            "    outcome = 'refused' if 'clone' in str(e).lower() else repr(e)\noutcome",
            "refused",
        ),
        # Lists and dicts cross, and the answer comes back as Python values.
        (
            "import js\nns = __import__('workers').rpc._DurableObjectNamespaceWrapper(js._miniworkerd_queue)\n"
            "stub = ns.get(ns.idFromName('contract'))\n"
            "r = await stub.enqueue('default', [{'id': 'e1', 'visitor_id': 'v'}])\n"
            "outcome = 'ok' if r['added'] == 1 else repr(r)\noutcome",
            "ok",
        ),
        # The Cache API refuses what the real one refuses...
        (
            "import js\nfrom pyodide.ffi import to_js\n"
            "def response(status, headers):\n"
            "    return js.Response.new('x' if status != 206 else 'x', to_js({'status': status, 'headers': headers}, "
            "dict_converter=js.Object.fromEntries))\n"
            "outcomes = []\n"
            "for status, headers in [(206, {'cache-control': 'max-age=60'}), (200, {'cache-control': 'max-age=60', 'vary': '*'})]:\n"
            "    try:\n        await js.caches.default.put('http://contract.test/x', response(status, headers))\n"
            "        outcomes.append('stored')\n    except Exception:\n        outcomes.append('refused')\n"
            "await js.caches.default.put('http://contract.test/cookie', response(200, {'cache-control': 'max-age=60', 'set-cookie': 'a=1'}))\n"
            "outcomes.append('skipped' if await js.caches.default.match('http://contract.test/cookie') is None else 'stored')\n"
            "try:\n    await js.caches.default.put(js.Request.new('http://contract.test/p', to_js({'method': 'POST'}, dict_converter=js.Object.fromEntries)), response(200, {}))\n"
            "    outcomes.append('stored')\nexcept Exception:\n    outcomes.append('refused')\n"
            "','.join(outcomes)",
            "refused,refused,skipped,refused",
        ),
        # sql.exec is synchronous: it returns a cursor, not a promise.
        (
            "import js\nns = __import__('workers').rpc._DurableObjectNamespaceWrapper(js._miniworkerd_queue)\n"
            "await ns.get(ns.idFromName('sync-contract')).enqueue('default', [{'id': 's1', 'visitor_id': 'v'}])\n"
            "from durable_objects.storage_sql import StorageSql\n"
            "live = js._miniworkerd_queue.objects.get('sync-contract')\n"
            "sql = StorageSql(live.state.storage.sql)\n"
            "rows = sql.exec('SELECT COUNT(*) AS n FROM queued_events')\n"
            "outcome = 'ok' if rows == [{'n': 1}] else repr(rows)\noutcome",
            "ok",
        ),
    ],
)
def test_rpc_contract(worker: Worker, snippet: str, expected: str) -> None:
    assert worker.control("python", "POST", snippet)["result"] == expected
