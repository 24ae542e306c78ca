"""The self-hosted proxy end to end: real HTTP on 127.0.0.1 between client, proxy and origin."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from local_stack import Stack, until

from edgesplit import load_config
from edgesplit.core import assign, verify_token
from servers import CONFIG, DECISION_HEADER, KEYRING, MANIFESTS

CONFIG_OBJ = load_config(CONFIG)
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def expected(visitor: str, path: str) -> dict[str, str]:
    return {
        k: a.variant for k, a in assign(CONFIG_OBJ, visitor, {"path": path}).items() if a.variant is not None
    }


async def test_new_visitor_gets_a_cookie_and_keeps_its_variants(stack: Stack) -> None:
    resp, body = await stack.get("/page/home", headers=BROWSER)
    assert resp.status == 200
    [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_id=")]
    assert cookie.startswith("edgesplit_id=") and "Max-Age=7776000" in cookie and "HttpOnly" in cookie
    visitor = cookie.split(";")[0].split("=", 1)[1]
    assert body["verified"] and body["visitor_id"] == visitor
    assert body["assignments"] == expected(visitor, "/page/home")
    [decision] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    cookies = f"edgesplit_id={visitor}; {decision.split(';')[0]}"
    for _ in range(5):  # a returning browser sends both cookies back: nothing to set again
        again, again_body = await stack.get("/page/home", headers={**BROWSER, "Cookie": cookies})
        assert again.headers.getall("Set-Cookie", []) == []
        assert again_body["assignments"] == body["assignments"]


async def test_the_visitor_cookie_slides_when_the_decision_cookie_is_refreshed(stack: Stack) -> None:
    visitor = "sliding-visitor-01"
    resp, _ = await stack.get("/page/home", visitor, headers=BROWSER)  # no decision cookie: refreshed
    set_cookies = resp.headers.getall("Set-Cookie")
    [identity] = [c for c in set_cookies if c.startswith("edgesplit_id=")]
    assert (
        identity.startswith(f"edgesplit_id={visitor};") and "Max-Age=7776000" in identity
    )  # same id, full life
    assert any(c.startswith("edgesplit_decision=") for c in set_cookies)


async def test_bots_get_control_no_cookie_no_exposure(stack: Stack) -> None:
    for agent in (
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "",
    ):
        resp, body = await stack.get("/page/shop-bot", headers={"User-Agent": agent})
        assert "Set-Cookie" not in resp.headers
        assert body["verified"] and body["assignments"] == {"hero": "control", "shop": "a"}
    resp, body = await stack.get("/page/shop-bot", headers={**BROWSER, "Sec-Purpose": "prefetch"})
    assert "Set-Cookie" not in resp.headers and body["assignments"] == {"hero": "control", "shop": "a"}
    assert stack.outbox.events == []
    assert stack.service.metrics.value("edgesplit_bots_total", signal="user_agent") == 3


async def test_exposures_for_real_visitors(stack: Stack) -> None:
    await stack.get("/page/shop-1", "visitor-abcdef12", headers=BROWSER)
    events = stack.outbox.events
    assert {(e["experiment"], e["visitor_id"]) for e in events} == {
        ("hero", "visitor-abcdef12"),
        ("shop", "visitor-abcdef12"),
    }
    assert all(
        e["type"] == "exposure" and e["config_version"] == "e2e-1" and e["timestamp"].endswith("Z")
        for e in events
    )


async def test_client_sent_decision_header_never_reaches_the_origin(stack: Stack) -> None:
    forged = "es1.test-key.eyJhIjp7Imhlcm8iOiJib2xkIn19.AAAA"
    resp, body = await stack.get("/echo", "visitor-abcdef12", headers={DECISION_HEADER: forged, **BROWSER})
    assert body["decision_header"] != forged and body["verified"]
    # Pages no experiment targets still lose a forged header.
    resp, body = await stack.get("/other-page", headers={DECISION_HEADER: forged})
    assert body["decision_header"] is None


async def test_origin_header_verifies_and_carries_the_decision(stack: Stack) -> None:
    _, body = await stack.get("/echo", "visitor-abcdef12", headers=BROWSER)
    result = verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS)
    assert result.ok and result.claims is not None
    assert result.claims.config_version == "e2e-1" and result.claims.visitor_id == "visitor-abcdef12"
    assert dict(result.claims.assignments) == expected("visitor-abcdef12", "/echo")


async def test_untargeted_requests_pass_through_without_decision_or_cookie(stack: Stack) -> None:
    resp, body = await stack.get("/other-page")
    assert "Set-Cookie" not in resp.headers and body["decision_header"] is None
    assert resp.headers["Cache-Control"] == "public, max-age=10, s-maxage=60"  # not variant-dependent


async def test_one_origin_fetch_per_variant_for_a_cacheable_page(stack: Stack) -> None:
    visitors = [f"visitor-{n:08d}" for n in range(200)]
    by_variant: dict[str, list[str]] = {}
    for visitor in visitors:
        by_variant.setdefault(expected(visitor, "/page/landing")["hero"], []).append(visitor)
    for variant, group in by_variant.items():
        first, first_body = await stack.get("/page/landing", group[0], headers=BROWSER)
        assert first.headers["x-edgesplit-cache"] == "MISS"
        second, second_body = await stack.get("/page/landing", group[1], headers=BROWSER)
        assert second.headers["x-edgesplit-cache"] == "HIT"
        assert second_body == first_body and second_body["assignments"]["hero"] == variant
        assert 0 <= int(second.headers["Age"]) < 60  # seconds since the MISS stored it
    assert stack.origin.fetches["/page/landing"] == len(by_variant) == 2


@pytest.mark.slow
async def test_ten_thousand_visitors_never_see_another_variants_page(stack: Stack) -> None:
    rng = random.Random(42)
    paths = ["/page/home", "/page/shop-a", "/page/shop-b"]
    leaks: list[tuple[str, str]] = []
    semaphore = asyncio.Semaphore(32)

    async def visit(n: int) -> None:
        visitor = f"{rng.getrandbits(64):016x}"
        path = paths[n % len(paths)]
        async with semaphore:
            resp, body = await stack.get(path, visitor, headers=BROWSER)
        want = expected(visitor, path)
        if resp.status != 200 or body["assignments"] != want:
            leaks.append((visitor, path))

    await asyncio.gather(*(visit(n) for n in range(10_000)))
    assert leaks == []
    # 2 hero variants on home, 2 x 3 on each shop page: at most 14 distinct pages fetched (a
    # few more if two visitors of one variant missed at the same moment).
    fetched = sum(stack.origin.fetches[p] for p in paths)
    assert 14 <= fetched <= 64
    assert stack.service.metrics.value("edgesplit_cache_total", result="hit") >= 10_000 - 64


async def test_uncacheable_responses_are_never_served_from_cache(stack: Stack) -> None:
    for path in ("/nocache/x", "/private", "/cookie-page"):
        for n in range(4):
            resp, body = await stack.get(path, "visitor-abcdef12", headers=BROWSER)
            assert resp.headers["x-edgesplit-cache"] == "BYPASS"
            assert body["fetch"] == n + 1
    _, _ = await stack.get("/error", "visitor-abcdef12")
    resp, _ = await stack.get("/error", "visitor-abcdef12")
    assert resp.status == 500 and stack.origin.fetches["/error"] == 2  # errors are not cached


async def test_variant_pages_are_private_downstream(stack: Stack) -> None:
    resp, _ = await stack.get("/page/home", "visitor-abcdef12", headers=BROWSER)
    assert resp.headers["Cache-Control"] == "private, max-age=10"
    cached, _ = await stack.get("/page/home", "visitor-abcdef12", headers=BROWSER)
    assert (
        cached.headers["x-edgesplit-cache"] == "HIT"
        and cached.headers["Cache-Control"] == "private, max-age=10"
    )


async def test_head_requests_use_the_cache_and_get_no_body(stack: Stack) -> None:
    await stack.get("/page/head", "visitor-abcdef12")
    resp, body = await stack.get("/page/head", "visitor-abcdef12", method="HEAD")
    assert resp.status == 200 and resp.headers["x-edgesplit-cache"] == "HIT" and body == b""


async def test_request_bodies_and_methods_are_forwarded(stack: Stack) -> None:
    resp, body = await stack.get(
        "/echo",
        "visitor-abcdef12",
        method="POST",
        data=b"x" * 300_000,
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 200 and body["method"] == "POST" and len(body["body"]) == 300_000
    resp, body = await stack.get("/echo", method="PATCH", data=b'{"a": 1}')
    assert body["method"] == "PATCH" and body["body"] == '{"a": 1}'


async def test_hop_by_hop_and_forwarding_headers(stack: Stack) -> None:
    _, body = await stack.get(
        "/echo",
        headers={
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "X-Keep": "yes",
        },
    )
    headers = {k.lower(): v for k, v in body["headers"].items()}
    assert "x-drop-me" not in headers and "keep-alive" not in headers and headers["x-keep"] == "yes"
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"].startswith("127.0.0.1:")


async def test_bodies_stream_through_without_buffering(stack: Stack) -> None:
    async with stack.client.get(stack.base + "/stream") as resp:
        first = await asyncio.wait_for(resp.content.readline(), 5)
        assert first == b"first chunk\n"  # arrived while the origin still holds the rest
        stack.origin.release_stream.set()
        assert await resp.content.read() == b"second chunk\n"


async def test_large_bodies_stream_and_are_not_cached(stack: Stack) -> None:
    for _ in range(2):
        resp, body = await stack.get("/big", "visitor-abcdef12")
        assert resp.status == 200 and len(body) == 80 * 65536
    assert len(stack.service.cache) == 0


async def test_origin_down_gives_502_and_slow_gives_504_and_the_proxy_stays_up(stack: Stack) -> None:
    resp, body = await stack.get("/slow")
    assert resp.status == 504 and b"504" in body
    stack.service.origin.base = "http://127.0.0.1:1"  # nothing listens on port 1
    resp, body = await stack.get("/page/home", "visitor-abcdef12")
    assert resp.status == 502 and b"502" in body
    health, data = await stack.get("/__edgesplit/health")
    assert health.status == 200 and data["status"] == "ok"
    assert stack.service.metrics.value("edgesplit_origin_errors_total", kind="timeout") == 1
    assert stack.service.metrics.value("edgesplit_origin_errors_total", kind="unavailable") == 1


async def test_metrics_in_prometheus_format(stack: Stack) -> None:
    await stack.get("/page/home", "visitor-abcdef12")
    resp, body = await stack.get("/__edgesplit/metrics")
    text = body.decode() if isinstance(body, bytes) else str(body)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'edgesplit_requests_total{outcome="proxied"} 1' in text
    assert "edgesplit_decisions_total 1" in text
    assert 'edgesplit_request_duration_seconds_bucket{le="+Inf"}' in text


async def test_metrics_can_require_a_token(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = "s3cret-admin-token-0123456789abcdef"
    resp, _ = await stack.get("/__edgesplit/metrics")
    assert resp.status == 401
    resp, _ = await stack.get(
        "/__edgesplit/metrics", headers={"Authorization": "Bearer s3cret-admin-token-0123456789abcdef"}
    )
    assert resp.status == 200


async def test_config_changes_are_picked_up_and_bad_ones_refused(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    updated = json.loads(json.dumps(CONFIG))
    updated["version"] = "e2e-2"
    path.write_text(json.dumps(updated))

    async def health() -> dict[str, Any]:
        return (await stack.get("/__edgesplit/health"))[1]

    async def serving_e2e_2() -> bool:
        return (await health())["config_version"] == "e2e-2"

    async def refused_once() -> bool:
        return (await health())["config_refused"] == 1

    await until(serving_e2e_2)
    path.write_text('{"schema_version": 1, "version": "broken", "experiments": [{"key": "x"}]}')
    await until(refused_once)
    assert (await health())["config_version"] == "e2e-2"
    _, body = await stack.get("/echo", "visitor-abcdef12")
    assert (
        verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS).claims.config_version
        == "e2e-2"
    )


async def test_cache_hits_are_not_signed(stack: Stack) -> None:
    """The decision header is signed only for requests that reach the origin."""

    class CountingKeyring:
        def __init__(self, keyring) -> None:  # noqa: ANN001
            self.keyring, self.signed = keyring, 0

        @property
        def signer(self) -> Any:
            self.signed += 1
            return self.keyring.signer

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.keyring, name)

    counting = CountingKeyring(stack.service.pipeline.keyring)
    stack.service.pipeline.keyring = counting
    visitor = "signing-visitor-1"
    first, _ = await stack.get("/page/signed", visitor, headers=BROWSER)
    assert first.headers["x-edgesplit-cache"] == "MISS" and counting.signed == 2  # header + decision cookie
    decision = [c for c in first.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")][0]
    cookies = f"edgesplit_id={visitor}; {decision.split(';')[0]}"
    for _ in range(3):
        hit, body = await stack.get("/page/signed", headers={**BROWSER, "Cookie": cookies})
        assert hit.headers["x-edgesplit-cache"] == "HIT" and body["verified"]
    assert counting.signed == 2


async def test_simultaneous_misses_for_one_page_reach_the_origin_once_per_variant(stack: Stack) -> None:
    """The stampede when a hot page expires: the first miss fetches, the others wait for its copy."""
    visitors = [f"stampede-visitor-{n:03d}" for n in range(30)]
    results = await asyncio.gather(
        *(stack.get("/page/stampede?delay=0.3", visitor, headers=BROWSER) for visitor in visitors)
    )
    variants = {expected(v, "/page/stampede")["hero"] for v in visitors}
    assert stack.origin.fetches["/page/stampede"] == len(variants) == 2
    for visitor, (resp, body) in zip(visitors, results, strict=True):
        assert (
            resp.status == 200 and body["assignments"]["hero"] == expected(visitor, "/page/stampede")["hero"]
        )
    assert stack.service.metrics.value("edgesplit_cache_total", result="coalesced") == len(visitors) - 2


async def test_uncacheable_pages_are_never_coalesced(stack: Stack) -> None:
    await asyncio.gather(
        *(stack.get("/nocache/slow?delay=0.2", f"nocache-visitor-{n:03d}", headers=BROWSER) for n in range(6))
    )
    assert stack.origin.fetches["/nocache/slow"] == 6  # each visitor gets its own response


async def test_a_leader_whose_client_leaves_does_not_hold_the_others(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiohttp

    monkeypatch.setattr(stack.service.pipeline.coalescer, "wait_seconds", 120.0)  # only a release ends it
    visitor = "leaving-visitor-01"

    async def leaver() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await stack.get(
                "/page/leave?delay=0.4", visitor, headers=BROWSER, timeout=aiohttp.ClientTimeout(0.1)
            )

    async def follower() -> tuple:
        await asyncio.sleep(0.05)  # arrives while the first request is at the origin
        return await stack.get("/page/leave?delay=0.4", visitor, headers=BROWSER)

    _, (resp, body) = await asyncio.wait_for(asyncio.gather(leaver(), follower()), 30)
    assert resp.status == 200 and body["verified"]
    assert len(stack.service.pipeline.coalescer) == 0  # nothing left waiting
