"""Cache-hit throughput of the proxy against the same server stack (aiohttp) serving a fixed
response, measured the same way in one run: a keep-alive HTTP/1.1 load generator with N
connections for T seconds against each.

    .venv/bin/python bench/bench_throughput.py [--connections 32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from edgesplit import load_config
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import CONFIG, KEYRING, TestOrigin, start_app

BODY = b'{"fixed": true}'


async def hammer(port: int, path: str, connections: int, seconds: float, cookie: str) -> float:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nUser-Agent: bench\r\n\r\n"
    ).encode()
    done = 0
    stop_at = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < stop_at:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return done / (time.perf_counter() - started)


async def main_async(connections: int, seconds: float) -> None:
    fixed = web.Application()
    fixed.router.add_get(
        "/{tail:.*}", lambda request: web.Response(body=BODY, content_type="application/json")
    )
    fixed_runner, fixed_port = await start_app(fixed)
    origin_runner, origin_port = await start_app(TestOrigin().app())
    with tempfile.TemporaryDirectory() as state:
        service = ProxyService(
            ProxyOptions(origin=f"http://127.0.0.1:{origin_port}", port=0, queue_dir=state),
            load_config(CONFIG),
            KEYRING,
        )
        await service.start()
        cookie = "edgesplit_id=benchvisitor01"
        await hammer(service.port, "/page/home", 1, 0.5, cookie)  # warm: the page is now cached
        baseline = await hammer(fixed_port, "/page/home", connections, seconds, cookie)
        proxied = await hammer(service.port, "/page/home", connections, seconds, cookie)
        await service.stop()
    await origin_runner.cleanup()
    await fixed_runner.cleanup()
    print(f"  aiohttp fixed response     {baseline:9.0f} req/s")
    print(f"  edgesplit cache hit        {proxied:9.0f} req/s   ({proxied / baseline:.2f}x the bare stack)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.connections, args.seconds))


if __name__ == "__main__":
    main()
