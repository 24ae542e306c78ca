"""Issue 13, finding 5: a silent connection, or one trickling its headers or body, must not hold
the self-hosted server's sockets; past the connection ceiling a new client is told so at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from proxy_support import running_proxy, status_of

DEADLINE = 45.0  # generous: each limit below is at most 15 s


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (EOF), within the deadline."""
    data = b""
    async with asyncio.timeout(DEADLINE):
        try:
            while chunk := await reader.read(65536):
                data += chunk
        except ConnectionResetError:  # closed while our bytes were still arriving: also closed
            pass
    return data


async def test_a_silent_connection_is_closed(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:  # the defaults: idle 15 s
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            assert await closed_by_server(reader) == b""
        finally:
            writer.close()


async def test_headers_trickled_byte_by_byte_are_cut_off(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:  # the defaults: headers within 10 s
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)

        async def trickle() -> None:
            for byte in b"GET /nocache/x HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 10_000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)

        sender = asyncio.ensure_future(trickle())
        try:
            await closed_by_server(reader)
            assert not sender.done() or sender.exception() is not None  # cut off mid-headers
        finally:
            sender.cancel()
            writer.close()
        assert proxy.origin.seen == []


async def test_a_body_that_never_arrives_is_answered_408(tmp_path: Path) -> None:
    from edgesplit.proxy.limits import ServerLimits

    limits = ServerLimits(body_timeout=1.0)
    async with running_proxy(tmp_path, server_limits=limits) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /__edgesplit/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"event":'
        )
        await writer.drain()
        try:
            answer = await closed_by_server(reader)
        finally:
            writer.close()
        assert status_of(answer) == 408


async def test_connections_beyond_the_ceiling_get_503(tmp_path: Path) -> None:
    from edgesplit.proxy.limits import ServerLimits

    limits = ServerLimits(max_connections=5, idle_timeout=60.0)
    async with running_proxy(tmp_path, server_limits=limits) as proxy:
        idle = [await asyncio.open_connection("127.0.0.1", proxy.port) for _ in range(5)]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GET /nocache/x HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await closed_by_server(reader)
            writer.close()
            assert status_of(answer) == 503
        finally:
            for _, w in idle:
                w.close()

        async def served() -> bool:
            status, _, _ = await proxy.get("/nocache/x")
            return status == 200

        async with asyncio.timeout(DEADLINE):  # the slots come back once the idle ones are gone
            while not await served():
                await asyncio.sleep(0.05)
