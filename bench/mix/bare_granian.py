"""The same bare pass-through proxy as bare_proxy.py, served by granian (RSGI, embedded in this
process so its CPU is measured with it) instead of aiohttp's server; the origin client stays
aiohttp's. It answers one question: how much cheaper is granian's server than aiohttp's here?

    python bare_granian.py PORT ORIGIN_URL      (needs `pip install granian`)
"""

import asyncio
import signal
import sys
from typing import Any

import aiohttp
import uvloop
from granian.server.embed import Server

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class Proxy:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.session: aiohttp.ClientSession | None = None

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
            )
        headers = [(k, v) for k, v in scope.headers.items() if k.lower() not in HOP]
        body = await protocol() if scope.method in ("POST", "PUT", "PATCH") else None
        url = self.origin + scope.path + (f"?{scope.query_string}" if scope.query_string else "")
        async with self.session.request(scope.method, url, headers=headers, data=body) as upstream:
            out = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP]
            transport = protocol.response_stream(upstream.status, out)
            async for chunk in upstream.content.iter_any():
                await transport.send_bytes(chunk)


async def main(port: int, origin: str) -> None:
    server = Server(Proxy(origin.rstrip("/")), address="127.0.0.1", port=port)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
