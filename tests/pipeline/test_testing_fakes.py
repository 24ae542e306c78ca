"""The port fakes keep the real ports' contracts: what no adapter would do is refused, loudly
(``edgesplit.pipeline.testing``; also runs inside Pyodide)."""

from __future__ import annotations

import asyncio

import pytest

from edgesplit.pipeline import Headers, OriginTimeout, ProxyRequest, ProxyResponse
from edgesplit.pipeline.testing import (
    Body,
    CheckedCache,
    FakeClock,
    FakeOrigin,
    InlineBackground,
    PortContractError,
    RecordingOutbox,
    read,
    request,
    respond,
    run,
    virtual_time,
)
from edgesplit.proxy.cache import MemoryCache


def test_the_clock_moves_only_forward_and_both_readings_together() -> None:
    clock = FakeClock(1_795_000_000.0)
    start, mono = clock.now(), clock.monotonic()
    clock.advance(2.5)
    assert (clock.now() - start, clock.monotonic() - mono) == (2.5, 2.5)
    with pytest.raises(PortContractError):
        clock.advance(-1)


@virtual_time
async def test_virtual_time_jumps_to_the_next_timer() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.sleep(3600)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), 30)
    assert loop.time() - started == pytest.approx(3630)


def test_a_deadlock_is_reported_instead_of_hanging() -> None:
    with pytest.raises(PortContractError, match="deadlock"):
        run(asyncio.Event().wait())


@virtual_time
async def test_the_origin_hands_bodies_over_streamed_and_translates_nothing() -> None:
    async def bytes_body(message: ProxyRequest) -> ProxyResponse:
        return ProxyResponse(200, Headers(), b"not streamed")

    async def raises(message: ProxyRequest) -> ProxyResponse:
        raise ConnectionResetError("an adapter translates this")

    async def times_out(message: ProxyRequest) -> ProxyResponse:
        raise OriginTimeout("slow")

    with pytest.raises(PortContractError, match="streamed"):
        await FakeOrigin(bytes_body).fetch(request())
    with pytest.raises(PortContractError, match="OriginTimeout or OriginUnavailable"):
        await FakeOrigin(raises).fetch(request())
    with pytest.raises(OriginTimeout):
        await FakeOrigin(times_out).fetch(request())


@virtual_time
async def test_head_and_304_answers_have_no_body_as_the_adapters_give_them() -> None:
    async def page(message: ProxyRequest) -> ProxyResponse:
        return respond(304 if "etag" in message.headers else 200, b"body")

    origin = FakeOrigin(page)
    assert (await origin.fetch(request("HEAD"))).body is None
    assert (await origin.fetch(request("GET", headers={"ETag": "x"}))).body is None
    assert await read((await origin.fetch(request())).body) == b"body"
    assert [sent.method for sent in origin.requests] == ["HEAD", "GET", "GET"]


@virtual_time
async def test_requests_are_built_as_the_shells_build_them() -> None:
    message = request("post", "http://shop.test/x", {"X-Mixed-Case": "1"}, b"12345")
    assert message.method == "POST" and message.headers.items()[0] == ("x-mixed-case", "1")
    assert message.headers.get("content-length") == "5"
    assert message.read_body is not None
    assert await message.read_body(5) == b"12345" and await message.read_body(4) is None
    assert await read(message.body) == b"12345"


@virtual_time
async def test_a_body_is_read_once_and_says_whether_it_was_let_go() -> None:
    body = Body([b"a", b"b"])
    assert await read(body) == b"ab" and body.closed
    with pytest.raises(PortContractError):
        aiter(body)
    unread = Body([b"a"])
    await unread.aclose()
    assert unread.closed and unread.chunks_read == 0
    with pytest.raises(OSError):
        await read(Body([b"a", b"b"], fail_after=1))


def test_the_outbox_takes_lists_of_json_ready_events_with_ids() -> None:
    outbox = RecordingOutbox()
    outbox.submit([{"id": "e1", "type": "conversion", "value": 1.5}])
    for bad in (
        {"id": "e2", "type": "conversion"},  # not a list
        [{"type": "conversion"}],  # no id
        [{"id": "e3", "type": "x", "value": float("nan")}],  # not JSON
        [{"id": "e4", "type": "x", "when": object()}],
    ):
        with pytest.raises(PortContractError):
            outbox.submit(bad)  # type: ignore[arg-type]
    outbox.fail = OSError("disk full")
    with pytest.raises(OSError):
        outbox.submit([{"id": "e5", "type": "conversion"}])
    assert [event["id"] for event in outbox.events] == ["e1"]


@virtual_time
async def test_background_work_runs_when_told_and_failures_are_kept() -> None:
    background = InlineBackground()
    done: list[str] = []

    async def work(name: str) -> None:
        done.append(name)
        if name == "second":
            background.defer(work("deferred while running"))
            raise RuntimeError("broken")

    background.defer(work("first"))
    background.defer(work("second"))
    assert done == []
    await background.run_pending()
    assert done == ["first", "second", "deferred while running"]
    assert [str(exc) for exc in background.failures] == ["broken"] and background.completed == 2
    with pytest.raises(PortContractError):
        background.defer(lambda: None)  # type: ignore[arg-type]
    background.defer(work("never run"))
    assert background.close() == 1


@virtual_time
async def test_the_checked_cache_reports_each_store_once() -> None:
    clock = FakeClock(1_795_000_000.0)
    cache = CheckedCache(MemoryCache(clock))
    message = request("GET", "http://shop.test/page")
    response = cache.store("k", message, respond(200, [b"a", b"b"]), 60)
    assert cache.stored_calls == []  # not before the body has streamed by
    assert await read(response.body) == b"ab"
    assert cache.stored_calls == ["k"]
    hit = await cache.lookup("k", message)
    assert hit is not None and hit.body == b"ab"
    with pytest.raises(PortContractError):
        cache.store("k", message, respond(200, b"x"), 0)
