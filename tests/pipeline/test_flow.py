"""``Pipeline.handle`` driven directly, on the port fakes (no socket; also runs inside Pyodide):
decisions and cookies, the per-variant cache, streaming, the origin's failures."""

from __future__ import annotations

import asyncio
from typing import Any

from flow_support import BROWSER, DECISION_HEADER, copy_of, make_flow, set_cookie

from edgesplit.pipeline import OriginTimeout, OriginUnavailable, ProxyRequest, ProxyResponse
from edgesplit.pipeline.testing import Body, read, request, respond, virtual_time


@virtual_time
async def test_a_new_visitor_gets_a_cookie_and_keeps_its_variants() -> None:
    flow = make_flow()
    page = await flow.get("/page/home")
    assert page.status == 200
    [cookie] = [c for c in page.headers.get_all("set-cookie") if c.startswith("edgesplit_id=")]
    assert "Max-Age=7776000" in cookie and "HttpOnly" in cookie
    visitor = set_cookie(page.headers, "edgesplit_id")
    assert visitor == "new-visitor-000001"  # the id source it was handed, nothing else
    assert page.body["verified"] and page.body["visitor_id"] == visitor
    assert page.assignments == flow.expected(visitor, "/page/home")
    cookies = f"edgesplit_id={visitor}; edgesplit_decision={set_cookie(page.headers, 'edgesplit_decision')}"
    for _ in range(3):  # a returning browser sends both cookies back: nothing to set again
        again = await flow.get("/page/home", headers={"cookie": cookies})
        assert again.headers.get_all("set-cookie") == []
        assert again.assignments == page.assignments


@virtual_time
async def test_the_visitor_cookie_slides_when_the_decision_cookie_is_refreshed() -> None:
    flow = make_flow()
    page = await flow.get("/page/home", "sliding-visitor-01")  # no decision cookie: refreshed
    [identity] = [c for c in page.headers.get_all("set-cookie") if c.startswith("edgesplit_id=")]
    assert identity.startswith("edgesplit_id=sliding-visitor-01;") and "Max-Age=7776000" in identity
    assert set_cookie(page.headers, "edgesplit_decision")


@virtual_time
async def test_bots_and_prefetches_get_control_no_cookie_no_exposure() -> None:
    flow = make_flow()
    for agent in (
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "",
    ):
        page = await flow.get("/page/shop-bot", headers={"user-agent": agent})
        assert page.headers.get_all("set-cookie") == []
        assert page.body["verified"] and page.assignments == {"hero": "control", "shop": "a"}
    page = await flow.get("/page/shop-bot", headers={"sec-purpose": "prefetch"})
    assert page.headers.get_all("set-cookie") == [] and page.assignments == {"hero": "control", "shop": "a"}
    assert flow.outbox.events == []
    assert flow.metric("edgesplit_bots_total", signal="user_agent") == 3


@virtual_time
async def test_real_visitors_are_exposed_once_per_experiment() -> None:
    flow = make_flow()
    await flow.get("/page/shop-1", "visitor-abcdef12")
    events = flow.outbox.events
    assert {(e["experiment"], e["visitor_id"]) for e in events} == {
        ("hero", "visitor-abcdef12"),
        ("shop", "visitor-abcdef12"),
    }
    assert all(e["type"] == "exposure" and e["config_version"] == "e2e-1" for e in events)
    assert all(e["timestamp"].endswith("Z") for e in events)
    assert flow.metric("edgesplit_exposures_total") == 2


@virtual_time
async def test_a_forged_decision_header_never_reaches_the_origin() -> None:
    flow = make_flow()
    forged = "es1.test-key.eyJhIjp7Imhlcm8iOiJib2xkIn19.AAAA"
    page = await flow.get("/echo", "visitor-abcdef12", headers={DECISION_HEADER: forged})
    assert page.body["decision_header"] != forged and page.body["verified"]
    page = await flow.get("/other-page", headers={DECISION_HEADER: forged})  # untargeted pages too
    assert page.body["decision_header"] is None


@virtual_time
async def test_the_origin_header_verifies_and_carries_the_decision() -> None:
    flow = make_flow()
    page = await flow.get("/echo", "visitor-abcdef12")
    result = flow.verify(page.body["decision_header"])
    assert result.ok and result.claims is not None
    assert result.claims.config_version == "e2e-1" and result.claims.visitor_id == "visitor-abcdef12"
    assert dict(result.claims.assignments) == flow.expected("visitor-abcdef12", "/echo")


@virtual_time
async def test_untargeted_requests_pass_through_without_decision_or_cookie() -> None:
    flow = make_flow()
    page = await flow.get("/other-page")
    assert page.headers.get_all("set-cookie") == [] and page.body["decision_header"] is None
    assert page.headers.get("cache-control") == "public, max-age=10, s-maxage=60"  # not per variant


@virtual_time
async def test_one_origin_fetch_per_variant_for_a_cacheable_page() -> None:
    flow = make_flow()
    by_variant: dict[str, list[str]] = {}
    for n in range(40):
        visitor = f"visitor-{n:08d}"
        by_variant.setdefault(flow.expected(visitor, "/page/landing")["hero"], []).append(visitor)
    assert len(by_variant) == 2
    for variant, group in by_variant.items():
        first = await flow.get("/page/landing", group[0])
        assert first.headers.get("x-edgesplit-cache") == "MISS"
        flow.clock.advance(7)
        second = await flow.get("/page/landing", group[1])
        assert second.headers.get("x-edgesplit-cache") == "HIT"
        assert second.body == first.body and second.assignments["hero"] == variant
        assert second.headers.get("age") == "7"  # seconds since the MISS stored it
    assert flow.fetches["/page/landing"] == 2
    assert flow.cache.stored_calls == flow.cache.stores  # each store reported once


@virtual_time
async def test_uncacheable_responses_are_never_served_from_the_cache() -> None:
    flow = make_flow()
    for path in ("/nocache/x", "/private", "/cookie-page"):
        for n in range(3):
            page = await flow.get(path, "visitor-abcdef12")
            assert page.headers.get("x-edgesplit-cache") == "BYPASS"
            assert page.body["fetch"] == n + 1
    for _ in range(2):
        page = await flow.get("/error", "visitor-abcdef12")
    assert page.status == 500 and flow.fetches["/error"] == 2  # errors are not cached
    assert flow.metric("edgesplit_origin_errors_total", kind="5xx") == 2
    assert flow.cache.stores == []


@virtual_time
async def test_variant_pages_are_private_downstream_even_from_the_cache() -> None:
    flow = make_flow()
    page = await flow.get("/page/home", "visitor-abcdef12")
    assert page.headers.get("cache-control") == "private, max-age=10"
    cached = await flow.get("/page/home", "visitor-abcdef12")
    assert cached.headers.get("x-edgesplit-cache") == "HIT"
    assert cached.headers.get("cache-control") == "private, max-age=10"


@virtual_time
async def test_head_requests_use_the_cache_and_get_no_body() -> None:
    flow = make_flow()
    await flow.get("/page/head", "visitor-abcdef12")
    head = await flow.get("/page/head", "visitor-abcdef12", method="HEAD")
    assert head.status == 200 and head.headers.get("x-edgesplit-cache") == "HIT" and head.body == b""


@virtual_time
async def test_request_bodies_and_methods_are_forwarded_and_never_cached() -> None:
    flow = make_flow()
    page = await flow.get("/echo", "visitor-abcdef12", method="POST", body=b"x" * 300_000)
    assert page.status == 200 and page.body["method"] == "POST" and len(page.body["body"]) == 300_000
    page = await flow.get("/page/patch", method="PATCH", body=b'{"a": 1}')
    assert page.body["method"] == "PATCH" and page.body["body"] == '{"a": 1}'
    page = await flow.get("/page/with-body", method="GET", body=b"in the body, not in the key")
    assert page.headers.get("x-edgesplit-cache") is None  # a body is not in the key: no cache at all
    assert flow.cache.lookups == []


@virtual_time
async def test_hop_by_hop_headers_go_and_forwarding_headers_are_set() -> None:
    flow = make_flow()
    headers = {
        "connection": "keep-alive, X-Drop-Me",
        "x-drop-me": "1",
        "keep-alive": "timeout=5",
        "x-keep": "yes",
    }
    page = await flow.get("/echo", headers=headers, client_ip="198.51.100.7")
    sent = dict(page.body["headers"])
    assert "x-drop-me" not in sent and "keep-alive" not in sent and "connection" not in sent
    assert sent["x-keep"] == "yes"
    assert sent["x-forwarded-for"] == "198.51.100.7" and sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"] == "shop.test"


@virtual_time
async def test_bodies_stream_through_without_buffering() -> None:
    release = asyncio.Event()

    async def chunks() -> Any:
        yield b"first chunk\n"
        await release.wait()
        yield b"second chunk\n"

    async def handler(message: ProxyRequest) -> ProxyResponse:
        return respond(200, chunks(), {"cache-control": "no-store", "content-type": "text/plain"})

    flow = make_flow(handler=handler)
    response = await flow.pipeline.handle(request("GET", "http://shop.test/stream", BROWSER))
    stream = aiter(response.body)
    assert await anext(stream) == b"first chunk\n"  # here while the origin still holds the rest
    release.set()
    assert await anext(stream) == b"second chunk\n"


@virtual_time
async def test_large_bodies_stream_whole_and_are_not_cached() -> None:
    async def handler(message: ProxyRequest) -> ProxyResponse:
        return respond(200, [b"x" * 65536] * 8, {"cache-control": "public, s-maxage=60"})

    flow = make_flow(handler=handler, max_entry_bytes=256 * 1024)
    for _ in range(2):
        page = await flow.get("/big", "visitor-abcdef12")
        assert page.status == 200 and len(page.body) == 8 * 65536
        assert page.headers.get("x-edgesplit-cache") == "MISS"  # tried, and too large to keep
    assert len(flow.cache.inner) == 0
    assert flow.cache.stored_calls == flow.cache.stores  # the followers were let go each time


@virtual_time
async def test_origin_down_is_502_slow_is_504_and_the_pipeline_stays_up() -> None:
    failures: list[Exception] = [OriginTimeout("no answer in time"), OriginUnavailable("connection refused")]

    async def handler(message: ProxyRequest) -> ProxyResponse:
        raise failures.pop(0)

    flow = make_flow(handler=handler)
    slow = await flow.get("/page/home", "visitor-abcdef12")
    assert slow.status == 504 and b"504" in slow.body
    down = await flow.get("/page/home", "visitor-abcdef12")
    assert down.status == 502 and b"502" in down.body
    health = await flow.get("/__edgesplit/health")
    assert health.status == 200 and health.body["status"] == "ok"
    assert flow.metric("edgesplit_origin_errors_total", kind="timeout") == 1
    assert flow.metric("edgesplit_origin_errors_total", kind="unavailable") == 1
    assert flow.metric("edgesplit_requests_total", outcome="origin_timeout") == 1
    assert flow.cache.stores == []


@virtual_time
async def test_cache_hits_are_not_signed() -> None:
    """The decision header is signed only for requests that reach the origin."""

    class CountingKeyring:
        def __init__(self, keyring: Any) -> None:
            self.keyring, self.signed = keyring, 0

        @property
        def signer(self) -> Any:
            self.signed += 1
            return self.keyring.signer

        def __getattr__(self, name: str) -> Any:
            return getattr(self.keyring, name)

    flow = make_flow()
    counting = CountingKeyring(flow.pipeline.keyring)
    flow.pipeline.keyring = counting  # type: ignore[assignment]
    visitor = "signing-visitor-1"
    first = await flow.get("/page/signed", visitor)
    assert first.headers.get("x-edgesplit-cache") == "MISS" and counting.signed == 2  # header + cookie
    cookies = f"edgesplit_id={visitor}; edgesplit_decision={set_cookie(first.headers, 'edgesplit_decision')}"
    for _ in range(3):
        hit = await flow.get("/page/signed", headers={"cookie": cookies})
        assert hit.headers.get("x-edgesplit-cache") == "HIT" and hit.body["verified"]
    assert counting.signed == 2


@virtual_time
async def test_a_new_visitor_on_a_cache_hit_still_gets_a_cookie() -> None:
    flow = make_flow()
    await flow.get("/page/cookie-hit", "visitor-abcdef12")
    for _ in range(10):
        page = await flow.get("/page/cookie-hit")
        if page.headers.get("x-edgesplit-cache") == "HIT":
            break
    assert page.headers.get("x-edgesplit-cache") == "HIT"
    assert any(c.startswith("edgesplit_id=") for c in page.headers.get_all("set-cookie"))


@virtual_time
async def test_the_cache_expires_with_the_shared_max_age() -> None:
    flow = make_flow()
    await flow.get("/page/expiring", "visitor-abcdef12")
    flow.clock.advance(59)
    assert (await flow.get("/page/expiring", "visitor-abcdef12")).headers.get("x-edgesplit-cache") == "HIT"
    flow.clock.advance(2)
    assert (await flow.get("/page/expiring", "visitor-abcdef12")).headers.get("x-edgesplit-cache") == "MISS"
    assert flow.fetches["/page/expiring"] == 2


@virtual_time
async def test_a_new_config_is_used_from_the_next_request() -> None:
    flow = make_flow()
    changed = copy_of(flow.holder.source_document())
    changed["version"] = "flow-2"
    assert flow.holder.offer(changed) is None
    page = await flow.get("/echo", "visitor-abcdef12")
    assert page.body["config_version"] == "flow-2"
    assert flow.holder.offer({"schema_version": 1, "version": "broken", "experiments": [{"key": "x"}]})
    page = await flow.get("/echo", "visitor-abcdef12")
    assert page.body["config_version"] == "flow-2"  # a bad config never replaces a good one
    health = await flow.get("/__edgesplit/health")
    assert health.body["config_version"] == "flow-2" and health.body["config_refused"] == 1


@virtual_time
async def test_an_origin_body_that_fails_midway_is_not_cached() -> None:
    async def handler(message: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(
            200, respond(headers={"cache-control": "public, s-maxage=60"}).headers, Body([b"a", b"b"], 1)
        )

    flow = make_flow(handler=handler)
    response = await flow.pipeline.handle(request("GET", "http://shop.test/page/reset", BROWSER))
    try:
        await read(response.body)
    except OSError:
        pass
    else:
        raise AssertionError("the reset reaches whoever reads the body")
    assert len(flow.cache.inner) == 0 and flow.cache.stored_calls == flow.cache.stores
    assert len(flow.pipeline.coalescer) == 0  # nobody is left waiting for a copy
