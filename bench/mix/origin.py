"""The benchmark's origin and vendor sink, one process, aiohttp's low-level server on uvloop.

    python origin.py ORIGIN_PORT SINK_PORT

Origin: ``/page/<n>`` 8 KB HTML, cacheable for 5 minutes; ``/account/<n>`` 8 KB HTML, no-store.
Sink: accepts any POST (a vendor's batch endpoint) with 200, counting the bytes it received.
"""

import asyncio
import sys

import uvloop
from aiohttp import web

PAGE = b"<!doctype html><html><head><title>shop</title></head><body>" + b"<p>lorem ipsum</p>" * 450
PAGE += b"</body></html>"
CACHEABLE = {"content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=300"}
PRIVATE = {"content-type": "text/html; charset=utf-8", "cache-control": "private, no-store"}
received = {"batches": 0, "bytes": 0}


async def origin(request: web.BaseRequest) -> web.Response:
    if request.path.startswith("/account/"):
        return web.Response(body=PAGE, headers=PRIVATE)
    if request.path.startswith("/page/") or request.path == "/":
        return web.Response(body=PAGE, headers=CACHEABLE)
    return web.Response(status=404, text="not found")


async def sink(request: web.BaseRequest) -> web.Response:
    body = await request.read()
    received["batches"] += 1
    received["bytes"] += len(body)
    if request.method == "GET":  # the bench asks what arrived
        return web.json_response(received)
    return web.json_response({"ok": True})


async def main(origin_port: int, sink_port: int) -> None:
    loop = asyncio.get_running_loop()
    servers = []
    for handler, port in ((origin, origin_port), (sink, sink_port)):
        server = web.Server(handler, access_log=None)
        servers.append(await loop.create_server(server, "127.0.0.1", port, backlog=1024))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
