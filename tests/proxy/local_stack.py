"""The self-hosted proxy under test, and a client that speaks to it as one visitor at a time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from edgesplit import load_config
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import KEYRING, TestOrigin, known, start_app, visit


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds; fail after a deadline generous for any machine."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        await asyncio.sleep(0.05)


@dataclass
class Stack:
    origin: TestOrigin
    service: ProxyService
    outbox: MemoryOutbox
    base: str
    client: aiohttp.ClientSession

    async def get(
        self, path: str, visitor: str | None = None, **kwargs: Any
    ) -> tuple[aiohttp.ClientResponse, Any]:
        return await visit(self.client, self.base + path, visitor, **kwargs)


@asynccontextmanager
async def proxy_stack(tmp_path: Path, document: dict[str, Any]) -> AsyncIterator[Stack]:
    """The test origin and a proxy in front of it, running ``document`` (a config it watches)."""
    origin = TestOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(document))
    outbox = MemoryOutbox()
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}",
        port=0,
        config_path=str(config_path),
        origin_timeout=1.0,
        reload_interval=0.1,
        queue_dir=str(tmp_path / "state"),
    )
    service = ProxyService(options, known(load_config(str(config_path))), KEYRING, outbox=outbox)
    await service.start()
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
    try:
        yield Stack(origin, service, outbox, f"http://127.0.0.1:{service.port}", client)
    finally:
        await client.close()
        await service.stop()
        await origin_runner.cleanup()
