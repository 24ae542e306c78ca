"""Malformed cookies, headers, paths and methods: a clear 4xx or a normal answer, never a 5xx."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_stack import Stack


async def raw(stack: Stack, request: bytes) -> bytes:
    port = int(stack.base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        data = await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


NASTY = [
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nCookie: edgesplit_id=\xff\xfe; ;;=;a\r\n\r\n",
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nCookie: edgesplit_id=" + b"A" * 5000 + b"\r\n\r\n",
    b'GET /page/home HTTP/1.1\r\nHost: x\r\nCookie: edgesplit_id="unterminated\r\n\r\n',
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nCookie: edgesplit_id=../../etc; edgesplit_id=dup\r\n\r\n",
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nx-edgesplit-decision: es1...\r\nUser-Agent: \x01\x02\r\n\r\n",
    b"GET /page/%00%ff%zz/../.. HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET //page//home?edgesplit_force=hero:bold&__edgesplit=hero:x HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /page/home?" + b"a=1&" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /page/home HTTP/1.1\r\nHost: x\r\n\r\n",
    b"G\xffT /page/home HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /page/home HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /page/home HTTP/1.1\r\nHost: \xff\xfe:99999\r\n\r\n",
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nX-Long: " + b"v" * 20000 + b"\r\n\r\n",
    b"GET /page/home HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /__edgesplit/../page/home HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /__edgesplit/nothing HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\r\n\r\nGET /page/home HTTP/1.1\r\nHost: x\r\n\r\n",
    b"NOT HTTP AT ALL\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", NASTY, ids=[f"nasty-{i}" for i in range(len(NASTY))])
async def test_nasty_requests_never_get_a_5xx(stack: Stack, request_bytes: bytes) -> None:
    response = await raw(stack, request_bytes)
    assert response.startswith(b"HTTP/1."), response[:200]
    assert status_of(response) < 500, response[:300]
    # ...and the proxy still serves.
    healthy = await raw(stack, b"GET /__edgesplit/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(healthy) == 200


COOKIE_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)


@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(
    cookie=COOKIE_TEXT,
    agent=COOKIE_TEXT,
    query=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=80),
)
async def test_fuzzed_cookies_agents_and_queries(stack: Stack, cookie: str, agent: str, query: str) -> None:
    request = (
        f"GET /page/home?{query} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nUser-Agent: {agent}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    response = await raw(stack, request)
    assert status_of(response) < 500, response[:300]
