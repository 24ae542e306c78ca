"""The self-hosted proxy under test, and a client that speaks to it as one visitor at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from edgesplit.local.memory_outbox import MemoryOutbox
from edgesplit.local.service import ProxyService
from servers import TestOrigin, visit


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
