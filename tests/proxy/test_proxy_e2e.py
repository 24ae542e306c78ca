"""The self-hosted proxy end to end: real HTTP on 127.0.0.1 between client, proxy and origin."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from local_stack import Stack, until

from edgesplit import load_config
from edgesplit.core import assign, verify_token
from servers import CONFIG, KEYRING, MANIFESTS

CONFIG_OBJ = load_config(CONFIG)
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def expected(visitor: str, path: str) -> dict[str, str]:
    return {
        k: a.variant for k, a in assign(CONFIG_OBJ, visitor, {"path": path}).items() if a.variant is not None
    }


@pytest.mark.slow
async def test_ten_thousand_visitors_never_see_another_variants_page(stack: Stack) -> None:
    rng = random.Random(42)
    paths = ["/page/home", "/page/shop-a", "/page/shop-b"]
    leaks: list[tuple[str, str]] = []
    semaphore = asyncio.Semaphore(32)

    async def visit(n: int) -> None:
        visitor = f"{rng.getrandbits(64):016x}"
        path = paths[n % len(paths)]
        async with semaphore:
            resp, body = await stack.get(path, visitor, headers=BROWSER)
        want = expected(visitor, path)
        if resp.status != 200 or body["assignments"] != want:
            leaks.append((visitor, path))

    await asyncio.gather(*(visit(n) for n in range(10_000)))
    assert leaks == []
    # 2 hero variants on home, 2 x 3 on each shop page: at most 14 distinct pages fetched (a
    # few more if two visitors of one variant missed at the same moment).
    fetched = sum(stack.origin.fetches[p] for p in paths)
    assert 14 <= fetched <= 64
    assert stack.service.metrics.value("edgesplit_cache_total", result="hit") >= 10_000 - 64


async def test_request_bodies_and_methods_are_forwarded(stack: Stack) -> None:
    resp, body = await stack.get(
        "/echo",
        "visitor-abcdef12",
        method="POST",
        data=b"x" * 300_000,
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 200 and body["method"] == "POST" and len(body["body"]) == 300_000
    resp, body = await stack.get("/echo", method="PATCH", data=b'{"a": 1}')
    assert body["method"] == "PATCH" and body["body"] == '{"a": 1}'


async def test_hop_by_hop_and_forwarding_headers(stack: Stack) -> None:
    _, body = await stack.get(
        "/echo",
        headers={
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "X-Keep": "yes",
        },
    )
    headers = {k.lower(): v for k, v in body["headers"].items()}
    assert "x-drop-me" not in headers and "keep-alive" not in headers and headers["x-keep"] == "yes"
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"].startswith("127.0.0.1:")


async def test_bodies_stream_through_without_buffering(stack: Stack) -> None:
    async with stack.client.get(stack.base + "/stream") as resp:
        first = await asyncio.wait_for(resp.content.readline(), 5)
        assert first == b"first chunk\n"  # arrived while the origin still holds the rest
        stack.origin.release_stream.set()
        assert await resp.content.read() == b"second chunk\n"


async def test_origin_down_gives_502_and_slow_gives_504_and_the_proxy_stays_up(stack: Stack) -> None:
    resp, body = await stack.get("/slow")
    assert resp.status == 504 and b"504" in body
    stack.service.origin.base = "http://127.0.0.1:1"  # nothing listens on port 1
    resp, body = await stack.get("/page/home", "visitor-abcdef12")
    assert resp.status == 502 and b"502" in body
    health, data = await stack.get("/__edgesplit/health")
    assert health.status == 200 and data["status"] == "ok"
    assert stack.service.metrics.value("edgesplit_origin_errors_total", kind="timeout") == 1
    assert stack.service.metrics.value("edgesplit_origin_errors_total", kind="unavailable") == 1


async def test_config_changes_are_picked_up_and_bad_ones_refused(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    updated = json.loads(json.dumps(CONFIG))
    updated["version"] = "e2e-2"
    path.write_text(json.dumps(updated))

    async def health() -> dict[str, Any]:
        return (await stack.get("/__edgesplit/health"))[1]

    async def serving_e2e_2() -> bool:
        return (await health())["config_version"] == "e2e-2"

    async def refused_once() -> bool:
        return (await health())["config_refused"] == 1

    await until(serving_e2e_2)
    path.write_text('{"schema_version": 1, "version": "broken", "experiments": [{"key": "x"}]}')
    await until(refused_once)
    assert (await health())["config_version"] == "e2e-2"
    _, body = await stack.get("/echo", "visitor-abcdef12")
    assert (
        verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS).claims.config_version
        == "e2e-2"
    )


async def test_a_leader_whose_client_leaves_does_not_hold_the_others(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiohttp

    monkeypatch.setattr(stack.service.pipeline.coalescer, "wait_seconds", 120.0)  # only a release ends it
    visitor = "leaving-visitor-01"

    async def leaver() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await stack.get(
                "/page/leave?delay=0.4", visitor, headers=BROWSER, timeout=aiohttp.ClientTimeout(0.1)
            )

    async def follower() -> tuple:
        await asyncio.sleep(0.05)  # arrives while the first request is at the origin
        return await stack.get("/page/leave?delay=0.4", visitor, headers=BROWSER)

    _, (resp, body) = await asyncio.wait_for(asyncio.gather(leaver(), follower()), 30)
    assert resp.status == 200 and body["verified"]
    assert len(stack.service.pipeline.coalescer) == 0  # nothing left waiting
