"""Real servers on 127.0.0.1 for the end-to-end tests: a test origin, the vendor simulator and
the self-hosted proxy between them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from local_stack import Stack, proxy_stack

from servers import CONFIG


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with proxy_stack(tmp_path, CONFIG) as running:
        yield running
