"""Real servers on 127.0.0.1 for the end-to-end tests: a test origin, the vendor simulator and
the self-hosted proxy between them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from local_stack import Stack

from edgesplit import load_config
from edgesplit.local.memory_outbox import MemoryOutbox
from edgesplit.local.service import ProxyOptions, ProxyService
from servers import CONFIG, KEYRING, TestOrigin, start_app


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    origin = TestOrigin()
    origin_runner, origin_port = await start_app(origin.app())
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(CONFIG))
    outbox = MemoryOutbox()
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}",
        port=0,
        config_path=str(config_path),
        origin_timeout=1.0,
        reload_interval=0.1,
        queue_dir=str(tmp_path / "state"),
    )
    service = ProxyService(options, load_config(str(config_path)), KEYRING, outbox=outbox)
    await service.start()
    client = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
    try:
        yield Stack(origin, service, outbox, f"http://127.0.0.1:{service.port}", client)
    finally:
        await client.close()
        await service.stop()
        await origin_runner.cleanup()
