"""Simultaneous misses for one variant page through ``Pipeline.handle``: the first fetches, the
others wait for its copy (``coalesce.MissCoalescer``). Virtual time: the origin's slow render and
the coalescer's wait cost nothing (also runs inside Pyodide)."""

from __future__ import annotations

import asyncio

from flow_support import BROWSER, Flow, make_flow

from edgesplit.pipeline import ProxyRequest, ProxyResponse
from edgesplit.pipeline.testing import read, request, respond, virtual_time


def slow_origin(flow_box: list[Flow], seconds: float) -> object:
    async def handler(message: ProxyRequest) -> ProxyResponse:
        flow = flow_box[0]
        flow.fetches[message.path] += 1
        await asyncio.sleep(seconds)  # a slow render (virtual seconds)
        cache_control = "no-store" if message.path.startswith("/nocache") else "public, s-maxage=60"
        body = message.headers.get("x-edgesplit-decision", "").encode()
        return respond(200, body, {"cache-control": cache_control})

    return handler


def slow_flow(seconds: float = 0.3) -> Flow:
    box: list[Flow] = []
    flow = make_flow(handler=slow_origin(box, seconds))  # type: ignore[arg-type]
    box.append(flow)
    return flow


@virtual_time
async def test_simultaneous_misses_reach_the_origin_once_per_variant() -> None:
    flow = slow_flow()
    visitors = [f"stampede-visitor-{n:03d}" for n in range(30)]
    pages = await asyncio.gather(*(flow.get("/page/stampede", visitor) for visitor in visitors))
    variants = {flow.expected(v, "/page/stampede")["hero"] for v in visitors}
    assert flow.fetches["/page/stampede"] == len(variants) == 2
    assert all(page.status == 200 for page in pages)
    assert flow.metric("edgesplit_cache_total", result="coalesced") == len(visitors) - 2
    assert len(flow.pipeline.coalescer) == 0


@virtual_time
async def test_uncacheable_pages_are_never_coalesced() -> None:
    flow = slow_flow(0.2)
    await asyncio.gather(*(flow.get("/nocache/slow", f"nocache-visitor-{n:03d}") for n in range(6)))
    assert flow.fetches["/nocache/slow"] == 6  # each visitor gets its own response
    assert flow.metric("edgesplit_cache_total", result="coalesced") == 0


@virtual_time
async def test_a_leader_whose_client_leaves_does_not_hold_the_others() -> None:
    flow = slow_flow(0.4)
    flow.pipeline.coalescer.wait_seconds = 120.0  # only a release ends the wait
    visitor = "leaving-visitor-01"
    leader = await flow.pipeline.handle(
        request("GET", "http://shop.test/page/leave", {**BROWSER, "cookie": f"edgesplit_id={visitor}"})
    )
    assert len(flow.pipeline.coalescer) == 1  # the leader's body is still to be read

    async def follower() -> bytes:
        response = await flow.pipeline.handle(
            request("GET", "http://shop.test/page/leave", {**BROWSER, "cookie": f"edgesplit_id={visitor}"})
        )
        return await read(response.body)

    waiting = asyncio.ensure_future(follower())
    await asyncio.sleep(1)  # the follower waits on the leader
    assert not waiting.done()
    await leader.body.aclose()  # the leader's client left: nothing will be stored
    body = await asyncio.wait_for(waiting, 30)
    assert body  # it fetched for itself
    assert flow.fetches["/page/leave"] == 2 and len(flow.pipeline.coalescer) == 0


@virtual_time
async def test_a_follower_gives_up_after_the_wait_and_fetches_itself() -> None:
    flow = slow_flow(0.1)
    visitor = "patient-visitor-01"
    headers = {**BROWSER, "cookie": f"edgesplit_id={visitor}"}
    leader = await flow.pipeline.handle(request("GET", "http://shop.test/page/stuck", headers))
    started = asyncio.get_running_loop().time()
    follower = await flow.pipeline.handle(request("GET", "http://shop.test/page/stuck", headers))
    waited = asyncio.get_running_loop().time() - started
    assert flow.pipeline.coalescer.wait_seconds <= waited < flow.pipeline.coalescer.wait_seconds + 1
    assert flow.fetches["/page/stuck"] == 2
    await read(follower.body)
    await read(leader.body)
    assert len(flow.pipeline.coalescer) == 0


@virtual_time
async def test_a_leader_with_nothing_to_store_lets_the_others_go_at_once() -> None:
    async def handler(message: ProxyRequest) -> ProxyResponse:
        await asyncio.sleep(0.2)
        return respond(200, b"private page", {"cache-control": "private, max-age=60"})

    flow = make_flow(handler=handler)
    headers = {**BROWSER, "cookie": "edgesplit_id=bypass-visitor-01"}
    loop = asyncio.get_running_loop()
    started = loop.time()
    leader = await flow.pipeline.handle(request("GET", "http://shop.test/page/private-ish", headers))
    assert leader.headers.get("x-edgesplit-cache") == "BYPASS"
    assert len(flow.pipeline.coalescer) == 0  # released before its body is even read
    await read(leader.body)
    follower = await flow.pipeline.handle(request("GET", "http://shop.test/page/private-ish", headers))
    await read(follower.body)
    assert loop.time() - started < 1  # nobody waited out the coalescer's five seconds
