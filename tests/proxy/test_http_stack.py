"""The proxy on aiohttp's low-level server keeps what the router used to do for it: answering
``Expect: 100-continue`` before the body, refusing other expectations, and taking any method
on any path."""

from __future__ import annotations

import asyncio
import json

from local_stack import Stack


async def raw_exchange(stack: Stack, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.service.port)
    writer.write(head)
    await writer.drain()
    return reader, writer


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await asyncio.wait_for(reader.readexactly(length), 30)


async def test_expect_100_continue_is_answered_before_the_body(stack: Stack) -> None:
    body = b'{"order": 42}'
    reader, writer = await raw_exchange(
        stack,
        b"POST /echo HTTP/1.1\r\nHost: shop.example\r\nExpect: 100-continue\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body),
    )
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"  # sent before any body byte arrived
    writer.write(body)
    head, answer = await read_response(reader)
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    echoed = json.loads(answer)
    assert echoed["body"] == body.decode() and echoed["method"] == "POST"


async def test_an_unknown_expectation_is_refused(stack: Stack) -> None:
    reader, writer = await raw_exchange(
        stack, b"GET /page/x HTTP/1.1\r\nHost: shop.example\r\nExpect: teapot\r\nContent-Length: 0\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    writer.close()
    assert head.startswith(b"HTTP/1.1 417")
    # Refused by the proxy itself: not passed on for the origin to refuse (no cache status).
    assert b"x-edgesplit-cache" not in head.lower()
    assert stack.origin.fetches["/page/x"] == 0


async def test_every_method_on_every_path_reaches_the_pipeline(stack: Stack) -> None:
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        async with stack.client.request(method, stack.base + "/echo") as response:
            assert response.status == 200
            assert (await response.json())["method"] == method
    async with stack.client.get(stack.base + "/page/deep/down/here?q=1") as response:
        assert response.status == 200
    assert stack.origin.fetches["/page/deep/down/here"] == 1
