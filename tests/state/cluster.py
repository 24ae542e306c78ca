"""Three (or N) real ``edgesplit serve`` proxies on 127.0.0.1 sharing one state URL, a real test
origin behind them, and a client that rotates over them like a round-robin load balancer."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from edgesplit import load_config
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import KEYRING, TestOrigin, known, start_app


def document(version: str, key: str, paths: list[str], **options: Any) -> dict[str, Any]:
    """A config with one two-variant experiment on ``paths`` (guardrails, bandit... as options)."""
    variants = [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}]
    experiment = {"key": key, "variants": variants, "targeting": {"paths": paths}, **options}
    config = {
        "schema_version": 1,
        "version": version,
        "identity": {"secure": False},
        "experiments": [experiment],
    }
    known(load_config(config))  # the test origin reads the proxies' compact (es2) decisions
    return config


@dataclass
class Cluster:
    services: list[ProxyService]
    client: aiohttp.ClientSession
    sent: int = 0
    _turn: itertools.cycle[int] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.services)))

    async def get(self, path: str, visitor: str) -> tuple[int, dict[str, Any]]:
        service = self.services[next(self._turn)]
        headers = {"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"}
        async with self.client.get(f"http://127.0.0.1:{service.port}{path}", headers=headers) as resp:
            self.sent += 1
            return resp.status, await resp.json()

    def total(self, metric: str, **labels: str) -> float:
        return sum(service.metrics.value(metric, **labels) for service in self.services)

    def experiments(self, key: str) -> list[Any]:
        return [service.holder.current.experiment(key) for service in self.services]


async def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` (sync or async) until it is true; generous, for a busy machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def start_cluster(
    tmp_path: Path,
    document: dict[str, Any],
    count: int,
    state_url: str | None,
    *,
    interval: float,
    poll: float = 0.1,
    admin_token: str | None = None,
    vendor_url: str | None = None,
) -> tuple[Cluster, Callable[[], Any]]:
    """``count`` proxies, each with its own config file (its last-known-good copy) and queue
    directory, as on separate machines. Returns the cluster and an async ``stop``."""
    origin_runner, origin_port = await start_app(TestOrigin().app())
    services = []
    for index in range(count):
        config_path = tmp_path / f"proxy-{index}" / "config.json"
        config_path.parent.mkdir(parents=True)
        config_path.write_text(json.dumps(document))
        options = ProxyOptions(
            origin=f"http://127.0.0.1:{origin_port}",
            port=0,
            config_path=str(config_path),
            queue_dir=str(config_path.parent / "state"),
            guardrail_interval=interval,
            reload_interval=poll,
            state_url=state_url,
            admin_token=admin_token,
            vendor_url=vendor_url,  # with a vendor, events go through each proxy's own disk queue
            direct_timeout=0.5,
        )
        outbox = None if vendor_url else MemoryOutbox()
        service = ProxyService(options, load_config(str(config_path)), KEYRING, outbox=outbox)
        await service.start()
        services.append(service)
    client = aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=30)
    )

    async def stop() -> None:
        await client.close()
        for service in services:
            await service.stop()
        await origin_runner.cleanup()

    return Cluster(services, client), stop
