"""The self-hosted proxy under test, and a client that speaks to it as one visitor at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from edgesplit.local.memory_outbox import MemoryOutbox
from edgesplit.local.service import ProxyService
from servers import TestOrigin


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
