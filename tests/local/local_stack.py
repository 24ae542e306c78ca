"""The self-hosted proxy under test, and a client that speaks to it as one visitor at a time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from edgesplit.local.memory_outbox import MemoryOutbox
from edgesplit.local.service import ProxyService
from servers import TestOrigin


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
        headers = dict(kwargs.pop("headers", {}))
        if visitor is not None:
            headers["Cookie"] = f"edgesplit_id={visitor}"
        async with self.client.request(
            kwargs.pop("method", "GET"), self.base + path, headers=headers, **kwargs
        ) as resp:
            body = await resp.read()
            try:
                return resp, json.loads(body)
            except ValueError:
                return resp, body
