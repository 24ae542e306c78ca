"""A real nginx + ``edgesplit decide`` + the test origin, per test (see nginx_stack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nginx_stack import NginxStack, open_stack

from edgesplit.proxy.memory_outbox import MemoryOutbox


@pytest.fixture
async def nginx_stack(tmp_path: Path) -> AsyncIterator[NginxStack]:
    async with open_stack(tmp_path, MemoryOutbox()) as stack:
        yield stack
