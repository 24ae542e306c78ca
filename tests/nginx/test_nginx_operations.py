"""nginx mode in operation: exposures reach the vendor once, outcomes feed the guardrail counts,
decisions are reused only within one config, a config change is picked up, and nginx serves open
(or closed, when configured) while the decision service is down."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
from nginx_stack import NginxProcess, NginxStack, open_stack, require_nginx, wait_until, write_nginx_conf

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.core.events import exposure_event
from edgesplit.proxy.vendor_sim import VendorSimulator
from edgesplit.queue.drain import DrainPolicy
from servers import CONFIG, known, start_app

BROWSER = {"User-Agent": "Mozilla/5.0 Firefox/130.0"}
CONFIG_OBJ = load_config(CONFIG)


def exposure_ids(visitor: str, path: str, now: float) -> set[str]:
    return {
        exposure_event(visitor, key, a.variant, CONFIG_OBJ.version, now, 1800)["id"]
        for key, a in assign(CONFIG_OBJ, visitor, {"path": path}).items()
        if a.in_experiment and a.variant
    }


async def test_exposures_reach_the_vendor_once_through_outage_and_recovery(tmp_path: Path) -> None:
    vendor = VendorSimulator()
    vendor_runner, vendor_port = await start_app(vendor.app())
    vendor_base = f"http://127.0.0.1:{vendor_port}"
    fast = DrainPolicy(pace_seconds=0.05, base_backoff_seconds=0.05, max_backoff_seconds=0.3)
    try:
        async with open_stack(
            tmp_path,
            None,
            vendor_url=f"{vendor_base}/batch",
            direct_timeout=0.5,
            breaker_cooldown=0.2,
            drain_policy=fast,
        ) as stack:
            visitors = [f"vendor-visitor-{n:04d}" for n in range(40)]
            for visitor in visitors[:20]:
                for _ in range(3):  # repeat visits: reused decisions, one exposure each
                    resp, _ = await stack.get("/page/shop-x", visitor, headers=BROWSER)
                    assert resp.status == 200
            vendor.mode = "down"
            for visitor in visitors[20:]:
                resp, _ = await stack.get("/page/shop-x", visitor, headers=BROWSER)
                assert resp.status == 200  # the page never waits for the vendor
            vendor.mode = "healthy"
            import time

            now = time.time()
            wanted = set().union(*(exposure_ids(v, "/page/shop-x", now) for v in visitors))

            async def delivered() -> bool:
                return wanted <= set(vendor.events)

            await wait_until(delivered, "every exposure at the vendor")
            assert set(vendor.events) == wanted  # each once: the vendor dedups nothing extra
    finally:
        await vendor_runner.cleanup()


async def test_outcomes_from_nginx_count_per_variant_with_errors(nginx_stack: NginxStack) -> None:
    recorder = nginx_stack.service.guardrails.recorder
    visitor = "outcome-visitor-1"
    variant = {k: v for k, v in assign(CONFIG_OBJ, visitor, {"path": "/page/out"}).items()}["hero"].variant
    for _ in range(3):
        await nginx_stack.get("/page/out", visitor, headers=BROWSER)
    await nginx_stack.get("/error", visitor, headers=BROWSER)  # untargeted: nothing counted
    await nginx_stack.get("/page/out", headers={"User-Agent": "Googlebot/2.1"})  # bots never count

    async def counted() -> bool:
        pending = recorder._pending  # noqa: SLF001 - what the next flush writes
        return pending.get(("hero", variant), {}).get("requests", 0) >= 3

    await wait_until(counted, "nginx's outcome lines")
    amounts = recorder._pending[("hero", variant)]  # noqa: SLF001
    assert amounts["requests"] == 3 and amounts["errors"] == 0 and amounts["exposures"] == 1
    assert sum(a.get("requests", 0) for a in recorder._pending.values()) == 3  # noqa: SLF001


async def test_decisions_are_reused_per_visitor_and_dropped_on_a_config_change(
    nginx_stack: NginxStack,
) -> None:
    metrics = nginx_stack.service.metrics
    visitor = "reload-visitor-1"
    resp, body = await nginx_stack.get("/echo", visitor, headers=BROWSER)
    [decision] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    cookies = {**BROWSER, "Cookie": f"edgesplit_id={visitor}; {decision.split(';')[0]}"}
    await nginx_stack.get("/echo", headers=cookies)  # the first answer without a cookie to set
    decided = metrics.value("edgesplit_decisions_total")
    for _ in range(5):
        _, body = await nginx_stack.get("/echo", headers=cookies)
        assert body["verified"] and body["visitor_id"] == visitor
    assert metrics.value("edgesplit_decisions_total") == decided  # nginx reused the answer
    _, other = await nginx_stack.get("/echo", "reload-visitor-2", headers=BROWSER)
    assert other["visitor_id"] == "reload-visitor-2"  # never another visitor's

    updated = json.loads(json.dumps(CONFIG))
    updated["version"] = "e2e-2"
    updated["experiments"][0]["variants"] = [{"key": "control"}, {"key": "bold"}, {"key": "italic"}]
    known(load_config(updated))  # the test origin reads decisions made with it
    nginx_stack.config_path.write_text(json.dumps(updated))

    async def new_version() -> bool:
        _, seen = await nginx_stack.get("/echo", headers=cookies)
        return seen["verified"] and seen["decision_header"] and _version(seen) == "e2e-2"

    await wait_until(new_version, "the new config through nginx")
    for _ in range(3):  # and never the old one again
        _, seen = await nginx_stack.get("/echo", headers=cookies)
        assert _version(seen) == "e2e-2"
    nginx_stack.config_path.write_text("{not json")  # a bad file changes nothing
    resp, data = await nginx_stack.get("/__edgesplit/health")
    assert data["config_version"] == "e2e-2"


def _version(body: dict) -> str:
    import time

    from edgesplit.core import verify_token
    from servers import KEYRING, MANIFESTS

    result = verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS)
    assert result.ok and result.claims is not None
    return result.claims.config_version


async def test_fail_open_when_the_decision_service_is_down(nginx_stack: NginxStack) -> None:
    resp, body = await nginx_stack.get("/page/down", "visitor-abcdef12", headers=BROWSER)
    assert body["verified"]
    runner, nginx_stack.service.runner = nginx_stack.service.runner, None
    assert runner is not None
    await runner.cleanup()  # the service stops answering
    for visitor in ("visitor-abcdef12", "visitor-22222222"):
        resp, body = await nginx_stack.get(
            "/page/down", visitor, headers={**BROWSER, "X-Edgesplit-Decision": "x"}
        )
        assert resp.status == 200 and resp.headers["X-Edgesplit-Decision-Status"] == "fail-open"
        assert body["decision_header"] is None and "Set-Cookie" not in resp.headers
    assert nginx_stack.origin.fetches["/page/down"] == 2  # the no-decision page, cached once


async def test_fail_closed_when_configured(tmp_path: Path) -> None:
    binary = require_nginx()
    origin_runner, origin_port = await start_app(aiohttp.web.Application())
    state, conf, port = write_nginx_conf(tmp_path, 9, origin_port, fail_open=False)
    (tmp_path / "epoch.conf").write_text('map $host $edgesplit_config_epoch { default "x"; }\n')
    nginx = NginxProcess(binary, state, conf, port)
    try:
        async with aiohttp.ClientSession() as client:

            async def refused() -> bool:
                try:
                    async with client.get(f"http://127.0.0.1:{port}/page/x") as resp:
                        return resp.status == 503 and b"unavailable" in await resp.read()
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(refused, "nginx to fail closed")
    finally:
        nginx.stop()
        await origin_runner.cleanup()


async def test_over_a_unix_socket_decisions_and_outcomes_work_alike(tmp_path: Path) -> None:
    from edgesplit.proxy.memory_outbox import MemoryOutbox

    async with open_stack(tmp_path, MemoryOutbox(), unix=True) as stack:
        visitor = "unix-visitor-0001"
        variant = assign(CONFIG_OBJ, visitor, {"path": "/page/unix"})["hero"].variant
        for _ in range(2):
            resp, body = await stack.get("/page/unix", visitor, headers=BROWSER)
            assert resp.status == 200 and body["assignments"]["hero"] == variant
        recorder = stack.service.guardrails.recorder

        async def counted() -> bool:
            return recorder._pending.get(("hero", variant), {}).get("requests", 0) == 2  # noqa: SLF001

        await wait_until(counted, "outcomes over the Unix datagram socket")
        assert (tmp_path / "decide.sock").exists()
