"""Fakes for the pipeline's ports, to drive ``Pipeline`` and ``AdminRoutes`` without a network
(in the spirit of httpx's ``MockTransport``). Pure Python: it imports under Pyodide too.

Each fake keeps the real port's contract and raises ``PortContractError`` where the code under
test (or the test itself) would break it, so a test cannot pass against something no real adapter
would ever do:

=====================  ========================================================================
fake                   contract it keeps
=====================  ========================================================================
``FakeOrigin``         a handler ``request -> response``; bodies arrive streamed (``Body``),
                       HEAD/204/304 have none, only ``OriginTimeout``/``OriginUnavailable`` escape
``FakeClock``          wall clock and monotonic clock, moved by ``advance()`` only
``InlineBackground``   deferred work runs when the test says (``run_pending()``); failures kept
``RecordingOutbox``    ``submit`` takes a list of JSON-ready events with an ``id``; never blocks
``RecordingObserver``  the guardrail counts' two calls, recorded
``FakeStatus``         ``gather(experiments, now)`` answers the given ``StatusData``
``CheckedCache``       wraps any ``CachePort``; ``stored`` must be called exactly once
=====================  ========================================================================

``request()`` builds a ``ProxyRequest`` the way the shells do (lower-case header names, a
streamed body and a bounded ``read_body``); ``read()`` drains a response body as a shell sends
it; ``run()`` runs a coroutine on an event loop with virtual time, the same on CPython and
Pyodide, so timeouts cost no wall time (``@virtual_time`` does it for an ``async def`` test).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from ..ports import CachePort, OriginError
from ..ports.http import Headers, ProxyRequest, ProxyResponse
from ..status.report import StatusData

__all__ = [
    "Body",
    "CheckedCache",
    "FakeClock",
    "FakeOrigin",
    "FakeStatus",
    "InlineBackground",
    "PortContractError",
    "RecordingObserver",
    "RecordingOutbox",
    "read",
    "request",
    "respond",
    "run",
    "virtual_time",
]

T = TypeVar("T")
Handler = Callable[[ProxyRequest], Awaitable[ProxyResponse]]


class PortContractError(AssertionError):
    """Something no real adapter would do, or no real adapter would accept."""


class FakeClock:
    """``now()`` (epoch seconds) and ``monotonic()``, which move together and only on ``advance``."""

    def __init__(self, now: float, monotonic: float = 1000.0) -> None:
        self._now = now
        self._monotonic = monotonic

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise PortContractError("a clock does not go back")
        self._now += seconds
        self._monotonic += seconds


class Body:
    """A body as the adapters stream it: chunks of bytes, read once, ``aclose()``-able.
    ``closed`` tells whether whoever held it let it go (read to the end, or closed unread);
    ``fail_after`` raises ``OSError`` after that many chunks (a connection reset mid-body)."""

    def __init__(self, chunks: Iterable[bytes] | AsyncIterable[bytes], fail_after: int | None = None) -> None:
        self._chunks = chunks
        self.fail_after = fail_after
        self.closed = False
        self.chunks_read = 0
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise PortContractError("a streamed body can be read only once")
        self._started = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in _as_async(self._chunks):
                if not isinstance(chunk, bytes):
                    raise PortContractError(f"body chunks are bytes, not {type(chunk).__name__}")
                if self.fail_after is not None and self.chunks_read >= self.fail_after:
                    raise OSError("connection reset by peer")
                self.chunks_read += 1
                yield chunk
        finally:
            self.closed = True

    async def aclose(self) -> None:
        self.closed = True


async def _as_async(chunks: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


def respond(
    status: int = 200,
    body: bytes | Iterable[bytes] | AsyncIterable[bytes] = b"",
    headers: Iterable[tuple[str, str]] | dict[str, str] = (),
) -> ProxyResponse:
    """An origin response as an adapter gives it: headers lower-cased, the body streamed."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    chunks = [body] if isinstance(body, bytes) else body
    return ProxyResponse(status, Headers(pairs), Body(chunks))


def _check_request(message: ProxyRequest) -> None:
    if not isinstance(message.headers, Headers):
        raise PortContractError("request headers are a ports.http.Headers")
    if not message.method.isupper() or not message.url.startswith(("http://", "https://")):
        raise PortContractError(f"not a request a shell makes: {message.method} {message.url}")
    if message.body is not None and not isinstance(message.body, AsyncIterable):
        raise PortContractError("request bodies reach the origin streamed (an async iterable of bytes)")


class FakeOrigin:
    """The origin port over a handler (``async def handler(request) -> ProxyResponse``).
    ``requests`` keeps what reached the origin (headers copied as they were sent)."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or _ok
        self.requests: list[ProxyRequest] = []

    def paths(self) -> list[str]:
        return [sent.path for sent in self.requests]

    async def fetch(self, request: ProxyRequest) -> ProxyResponse:
        _check_request(request)
        self.requests.append(
            ProxyRequest(
                request.method,
                request.url,
                request.headers.copy(),
                request.body,
                request.client_ip,
                dict(request.platform),
                origin_url=request.origin_url,
            )
        )
        try:
            response = await self.handler(request)
        except OriginError:
            raise
        except Exception as exc:
            raise PortContractError(
                "origin adapters raise only OriginTimeout or OriginUnavailable: translate errors there"
            ) from exc
        if not isinstance(response, ProxyResponse) or not isinstance(response.headers, Headers):
            raise PortContractError("the origin answers a ProxyResponse with ports.http.Headers")
        if not 100 <= response.status <= 599:
            raise PortContractError(f"no HTTP status {response.status}")
        if isinstance(response.body, (bytes, bytearray)):
            raise PortContractError("origin bodies arrive streamed: build them with respond() or Body")
        if response.body is not None and (request.method == "HEAD" or response.status in (204, 304)):
            await response.body.aclose()  # the adapters send none for these (RFC 9110)
            response.body = None
        return response


async def _ok(request: ProxyRequest) -> ProxyResponse:
    return respond(200, b"ok", {"content-type": "text/plain", "cache-control": "no-store"})


async def read(body: Any) -> bytes:
    """A response body as a shell sends it: all of it, then closed."""
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    chunks = []
    try:
        async for chunk in body:
            chunks.append(bytes(chunk))
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()
    return b"".join(chunks)


def request(
    method: str = "GET",
    url: str = "http://shop.test/",
    headers: Iterable[tuple[str, str]] | dict[str, str] = (),
    body: bytes | None = None,
    client_ip: str | None = "192.0.2.10",
    platform: dict[str, Any] | None = None,
) -> ProxyRequest:
    """A request as the shells hand it over: header names lower-cased, the body streamed, and
    ``read_body(limit)`` answering the whole body, or None when it is larger than ``limit``."""
    pairs = list(headers.items() if isinstance(headers, dict) else headers)
    if body is not None and not any(name.lower() == "content-length" for name, _ in pairs):
        pairs.append(("content-length", str(len(body))))
    data = body

    async def read_body(limit: int) -> bytes | None:
        if data is None:
            return b""
        return None if len(data) > limit else data

    return ProxyRequest(
        method.upper(),
        url,
        Headers(pairs),
        Body([body]) if body is not None else None,
        client_ip,
        dict(platform or {}),
        read_body=read_body,
    )


class InlineBackground:
    """Deferred work waits until ``run_pending()``; what failed is in ``failures``. ``close()``
    drops what was never run (a test that forgets to run it then says so)."""

    def __init__(self) -> None:
        self.pending: list[Awaitable[Any]] = []
        self.failures: list[BaseException] = []
        self.completed = 0

    def defer(self, work: Awaitable[Any]) -> None:
        if not inspect.isawaitable(work):
            raise PortContractError(f"defer takes an awaitable, not {type(work).__name__}")
        self.pending.append(work)

    async def run_pending(self) -> None:
        """Run deferred work in order, including work deferred while running."""
        while self.pending:
            work = self.pending.pop(0)
            try:
                await work
                self.completed += 1
            except Exception as exc:  # noqa: BLE001 - recorded for the test, as the shells log it
                self.failures.append(exc)

    def close(self) -> int:
        dropped = len(self.pending)
        for work in self.pending:
            close = getattr(work, "close", None)
            if close is not None:
                close()
        self.pending.clear()
        return dropped


class RecordingOutbox:
    """Keeps what was submitted; ``fail`` makes ``submit`` raise it (a full disk, a dead queue)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail: BaseException | None = None

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        if isinstance(events, (str, bytes, dict)) or not isinstance(events, Sequence):
            raise PortContractError("submit takes a list of events")
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("id"), str) or "type" not in event:
                raise PortContractError(f"an event is a dict with a string id and a type: {event!r}")
        try:  # the queue stores JSON: an event that is not JSON-ready would be lost there
            copies = json.loads(json.dumps(list(events), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise PortContractError(f"events must be JSON-ready: {exc}") from exc
        if self.fail is not None:
            raise self.fail
        self.events.extend(copies)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]


class RecordingObserver:
    """The guardrail counts' port: every decided request's outcome and every conversion."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, int, float]] = []
        self.conversions: list[dict[str, Any]] = []
        self.fail: BaseException | None = None

    def request_done(self, decision: Any, status: int, latency_seconds: float) -> None:
        if latency_seconds < 0:
            raise PortContractError("a latency is not negative")
        if self.fail is not None:
            raise self.fail
        self.requests.append((decision, status, latency_seconds))

    def conversion(self, event: dict[str, Any]) -> None:
        if self.fail is not None:
            raise self.fail
        self.conversions.append(event)


class FakeStatus:
    """The status page's numbers: answers ``data`` (or raises ``fail``); ``asked`` keeps the calls."""

    def __init__(self, data: StatusData | None = None) -> None:
        self.data = data or StatusData()
        self.fail: BaseException | None = None
        self.asked: list[tuple[list[str], float]] = []

    async def gather(self, experiments: list[str], now: float) -> StatusData:
        self.asked.append((list(experiments), now))
        if self.fail is not None:
            raise self.fail
        return self.data


class CheckedCache:
    """Wraps a real ``CachePort`` (e.g. the proxy's ``MemoryCache``): checks that ``stored`` is
    called exactly once per ``store``, counts calls, and can fail on ``lookup`` or ``store``."""

    def __init__(self, inner: CachePort) -> None:
        self.inner = inner
        self.lookups: list[str] = []
        self.stores: list[str] = []
        self.stored_calls: list[str] = []
        self.fail_lookup: BaseException | None = None
        self.fail_store: BaseException | None = None

    async def lookup(self, key: str, request: ProxyRequest) -> ProxyResponse | None:
        self.lookups.append(key)
        if self.fail_lookup is not None:
            raise self.fail_lookup
        return await self.inner.lookup(key, request)

    def store(
        self,
        key: str,
        request: ProxyRequest,
        response: ProxyResponse,
        ttl: int,
        stored: Callable[[], None] | None = None,
    ) -> ProxyResponse:
        if ttl <= 0:
            raise PortContractError("the pipeline stores only with a positive ttl")
        self.stores.append(key)
        if self.fail_store is not None:
            raise self.fail_store
        called = False

        def once() -> None:
            nonlocal called
            if called:
                raise PortContractError(f"stored called twice for {key}")
            called = True
            self.stored_calls.append(key)
            if stored is not None:
                stored()

        return self.inner.store(key, request, response, ttl, once)


class _VirtualSelector:
    """What a selector loop waits on: nothing but time, which passes at once."""

    def __init__(self, loop: _VirtualTimeLoop) -> None:
        self.loop = loop

    def select(self, timeout: float | None) -> list[Any]:
        if timeout is None:
            raise PortContractError("deadlock: every task waits and nothing is scheduled to wake one")
        self.loop.elapsed += timeout
        return []

    def close(self) -> None:
        pass


class _VirtualTimeLoop(asyncio.BaseEventLoop):
    """An event loop without I/O whose clock jumps to the next timer: ``asyncio.sleep(30)`` and
    ``wait_for(..., 5)`` cost no wall time, on CPython and under Pyodide alike."""

    def __init__(self) -> None:
        super().__init__()
        self.elapsed = 0.0
        self._selector = _VirtualSelector(self)

    def time(self) -> float:
        return self.elapsed

    def _process_events(self, event_list: list[Any]) -> None:
        pass

    def _write_to_self(self) -> None:
        pass


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on a fresh virtual-time loop (see ``_VirtualTimeLoop``)."""
    # Under Pyodide the test session itself runs inside Pyodide's loop, which asyncio would take
    # for a loop already running here: step aside from it for this run, and back after.
    outer = asyncio.events._get_running_loop()  # noqa: SLF001
    asyncio.events._set_running_loop(None)  # noqa: SLF001
    loop = _VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio.events._set_running_loop(outer)  # noqa: SLF001


def virtual_time(test: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """An ``async def`` test as a plain one run by ``run()``: the same test on CPython and under
    Pyodide (where no pytest plugin runs coroutines)."""

    @functools.wraps(test)
    def plain(*args: Any, **kwargs: Any) -> T:
        return run(test(*args, **kwargs))

    return plain
