"""Timeouts and a connection ceiling for the self-hosted server, so idle or slow clients cannot
hold its sockets (aiohttp keeps a silent connection for an hour by default, and has no limit on
connections or on how long a request's headers or body may take).

==================  =======  ==============================================================
option              default  what happens when it is exceeded
==================  =======  ==============================================================
``header_timeout``  10 s     a request's headers not complete this long after its first
                             byte: the connection is closed (slowloris)
``idle_timeout``    15 s     a connection with no request in progress (new, or kept alive
                             between requests) this long: closed
``body_timeout``    30 s     a request body not read completely this long after its first
                             read: 408 for edgesplit's endpoints; the origin request fails
``max_connections`` 1024     more open connections than this: a new one gets a 503 and is
                             closed at once (counted in ``edgesplit_connections_refused_total``)
==================  =======  ==============================================================
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .limits import ServerLimits

__all__ = ["BodyTimeout", "LimitedSite", "deadline_reader", "timed_chunks"]

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class BodyTimeout(Exception):
    """The client did not send its body in time."""


class _HeaderTimedHandler(RequestHandler):
    """aiohttp's handler, plus a timer from a request's first byte to its complete headers."""

    __slots__ = ("_header_timer", "_header_timeout", "_on_lost")

    def __init__(
        self, manager: Any, header_timeout: float, on_lost: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_timeout = header_timeout
        self._on_lost: Callable[[], None] | None = on_lost

    def data_received(self, data: bytes) -> None:
        waiting = self._waiter is not None and not self._waiter.done()  # between requests
        before = self._request_count
        super().data_received(data)
        if self._request_count > before:
            self._cancel_header_timer()
        elif waiting and self._header_timer is None:
            self._header_timer = self._loop.call_later(self._header_timeout, self.force_close)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()
        super().connection_lost(exc)


class _Busy(asyncio.Protocol):
    """Answers one connection over the limit with a 503 and closes it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_BUSY)
        transport.close()


class LimitedSite(web.TCPSite):
    """A TCP site whose connections get ``_HeaderTimedHandler`` and count against a ceiling."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limits: ServerLimits,
        sock: socket.socket | None = None,
    ) -> None:
        super().__init__(runner, host, port, reuse_address=True)
        self.limits = limits
        self.sock = sock
        """A listening socket to accept on (the workers of ``serve --workers`` share one)."""
        self.open_connections = 0
        self.refused_connections = 0

    def _released(self) -> None:
        self.open_connections -= 1

    def _protocol(self) -> asyncio.Protocol:
        if self.open_connections >= self.limits.max_connections:
            self.refused_connections += 1
            return _Busy()
        server = self._runner.server
        assert server is not None
        self.open_connections += 1
        # aiohttp's Server builds handlers from these same (private) kwargs.
        return _HeaderTimedHandler(
            server,
            self.limits.header_timeout,
            self._released,
            loop=server._loop,  # noqa: SLF001
            **server._kwargs,  # noqa: SLF001
        )

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        if self.sock is not None:
            self._server = await loop.create_server(self._protocol, sock=self.sock, backlog=self._backlog)
            return
        self._server = await loop.create_server(
            self._protocol, self._host, self._port, backlog=self._backlog, reuse_address=True
        )


async def timed_chunks(body: AsyncIterator[bytes], timeout: float) -> AsyncIterator[bytes]:
    """``body`` as long as it finishes within ``timeout`` seconds; then ``BodyTimeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    iterator = body.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), max(0.0, deadline - loop.time()))
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise BodyTimeout(f"request body not received within {timeout:g} s") from exc
        yield chunk


def deadline_reader(
    read: Callable[[int], Awaitable[bytes | None]], timeout: float
) -> Callable[[int], Awaitable[bytes | None]]:
    """``read_body`` bounded in time: ``BodyTimeout`` when the body takes longer."""

    async def read_in_time(limit: int) -> bytes | None:
        try:
            return await asyncio.wait_for(read(limit), timeout)
        except TimeoutError as exc:
            raise BodyTimeout(f"request body not received within {timeout:g} s") from exc

    return read_in_time
