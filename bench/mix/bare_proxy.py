"""The floor edgesplit is measured against: a bare aiohttp + uvloop pass-through proxy, no
decisions, no cache, the body streamed both ways.   python bare_proxy.py PORT ORIGIN_URL"""

import sys
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


async def proxy(request: web.Request) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP]
    body = request.content if request.body_exists else None
    async with session.request(
        request.method, ORIGIN + request.raw_path, headers=headers, data=body
    ) as upstream:
        out = web.StreamResponse(status=upstream.status)
        out.headers.extend((k, v) for k, v in upstream.headers.items() if k.lower() not in HOP)
        if upstream.content_length is not None:
            out.content_length = upstream.content_length
        await out.prepare(request)
        async for chunk in upstream.content.iter_any():
            await out.write(chunk)
        await out.write_eof()
        return out


async def session_context(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=256)
    app["session"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
    yield
    await app["session"].close()


if __name__ == "__main__":
    PORT, ORIGIN = int(sys.argv[1]), sys.argv[2].rstrip("/")
    app = web.Application()
    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", proxy)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None)
