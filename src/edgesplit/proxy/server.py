"""The self-hosted proxy's HTTP server: aiohttp in front, the pipeline in the middle.

This module only translates: aiohttp's request into a ``ProxyRequest``, the pipeline's
``ProxyResponse`` back onto the wire, streaming the body chunk by chunk.

The proxy runs on aiohttp's low-level server (``make_server``): one handler for every request,
no router, no middleware chain, no application signals, which the proxy never used (it has
one catch-all route) and which cost CPU on every request (docs/performance.md). ``make_app``
keeps the same handler behind a ``web.Application`` for code that wants one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11

from ..pipeline import Headers, Pipeline, ProxyRequest, ProxyResponse
from ..ports.http import plain_response
from .limits import ServerLimits
from .server_limits import BodyTimeout, deadline_reader, timed_chunks
from .wire_log import QuietParseErrors

__all__ = ["answer", "handler_args", "make_app", "make_server", "to_proxy_request", "send"]

log = logging.getLogger("edgesplit.server")
PIPELINE_KEY = web.AppKey("pipeline", Pipeline)
LIMITS_KEY = web.AppKey("server_limits", ServerLimits)


def to_proxy_request(request: web.BaseRequest, limits: ServerLimits | None = None) -> ProxyRequest:
    limits = limits or ServerLimits()
    headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
    host = request.headers.get("host") or f"{request.url.host}:{request.url.port}"
    # raw_path keeps the path and query exactly as the client sent them.
    url = f"{request.scheme}://{host}{request.raw_path}"
    body = timed_chunks(request.content.iter_any(), limits.body_timeout) if request.body_exists else None

    async def read_body(limit: int) -> bytes | None:
        declared = request.content_length
        if declared is not None and declared > limit:
            return None
        data = await request.content.read(limit + 1)
        while len(data) <= limit and not request.content.at_eof():
            more = await request.content.read(limit + 1 - len(data))
            if not more:
                break
            data += more
        return None if len(data) > limit else data

    return ProxyRequest(
        request.method,
        url,
        headers,
        body,
        request.remote,
        read_body=deadline_reader(read_body, limits.body_timeout),
    )


async def send(request: web.BaseRequest, response: ProxyResponse) -> web.StreamResponse:
    out = web.StreamResponse(status=response.status, headers=response.headers.items())
    body = response.body
    if isinstance(body, (bytes, bytearray)) and "content-length" not in response.headers:
        out.content_length = len(body)
    try:
        await out.prepare(request)
        if body is None or request.method == "HEAD":
            await out.write_eof()
        elif isinstance(body, (bytes, bytearray)):
            await out.write_eof(bytes(body))  # head and body in one write
        else:
            stream: AsyncIterator[bytes] = body
            async for chunk in stream:
                await out.write(chunk)
            await out.write_eof()
    finally:
        close = getattr(body, "aclose", None)
        if close is not None:  # a body not (fully) sent: let go of the origin and any waiters
            await close()
    return out


async def answer(request: web.BaseRequest, pipeline: Pipeline, limits: ServerLimits) -> web.StreamResponse:
    """One request, start to finish: what both ``make_server`` and ``make_app`` run."""
    if not request.raw_path.startswith("/"):  # absolute-form or '*': a reverse proxy takes neither
        return await send(request, plain_response(400, "400 Bad Request: origin-form targets only (/path)\n"))
    if "expect" in request.headers:
        await _expect(request)
    try:
        response = await pipeline.handle(to_proxy_request(request, limits))
    except BodyTimeout as exc:
        response = plain_response(408, f"408 Request Timeout: {exc}\n")
        response.headers.set("connection", "close")
    return await send(request, response)


async def _expect(request: web.BaseRequest) -> None:
    """``Expect: 100-continue`` as aiohttp's router answers it: the client may send its body."""
    expect = request.headers.get("expect", "")
    if request.version == HttpVersion11:
        if expect.lower() != "100-continue":
            raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the response proper has not started


async def _handle(request: web.Request) -> web.StreamResponse:
    return await answer(request, request.app[PIPELINE_KEY], request.app[LIMITS_KEY])


def handler_args() -> dict[str, Any]:
    """What every connection's handler is built with (header sizes, a quiet parse-error log)."""
    return {"max_field_size": 16 * 1024, "max_line_size": 16 * 1024, "logger": QuietParseErrors(log)}


def make_server(pipeline: Pipeline, limits: ServerLimits | None = None, **kwargs: Any) -> web.Server:
    """aiohttp's low-level server answering every request with the pipeline; ``kwargs`` go to
    each connection's handler (``keepalive_timeout``, ``access_log``...)."""
    limits = limits or ServerLimits()

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        return await answer(request, pipeline, limits)

    return web.Server(handle, **{**handler_args(), **kwargs})


def make_app(pipeline: Pipeline, limits: ServerLimits | None = None) -> web.Application:
    app = web.Application(handler_args=handler_args())
    app[PIPELINE_KEY] = pipeline
    app[LIMITS_KEY] = limits or ServerLimits()
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app
