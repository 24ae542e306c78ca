"""Event path benchmark: request latency with the vendor healthy vs. down (same run, side by
side), and the SQLite queue's enqueue and drain rates.

    .venv/bin/python bench/bench_events.py [--requests 600]

Everything runs on 127.0.0.1 in one process: a demo-style origin, the vendor simulator, and
the self-hosted proxy with a durable queue in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from edgesplit import load_config
from edgesplit.proxy.service import ProxyOptions, ProxyService
from edgesplit.proxy.vendor_sim import VendorSimulator
from edgesplit.queue.drain import DrainPolicy, drain_shard
from edgesplit.queue.store import QueueStore
from edgesplit.sqlite_sql import SqliteSql
from edgesplit.vendors import SendResult, WebhookAdapter
from servers import CONFIG, KEYRING, TestOrigin, start_app


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latencies(client: aiohttp.ClientSession, base: str, count: int, prefix: str) -> list[float]:
    timings = []
    for n in range(count):
        started = time.perf_counter()
        async with client.get(
            f"{base}/page/shop-{n % 5}",
            headers={"Cookie": f"edgesplit_id={prefix}-{n:06d}", "User-Agent": "Mozilla/5.0"},
        ) as resp:
            await resp.read()
        timings.append(time.perf_counter() - started)
    return timings


async def request_path(count: int) -> dict[str, float]:
    origin, vendor = TestOrigin(), VendorSimulator()
    origin_runner, origin_port = await start_app(origin.app())
    vendor_runner, vendor_port = await start_app(vendor.app())
    with tempfile.TemporaryDirectory() as queue_dir:
        options = ProxyOptions(
            origin=f"http://127.0.0.1:{origin_port}",
            port=0,
            vendor_url=f"http://127.0.0.1:{vendor_port}/batch",
            queue_dir=queue_dir,
        )
        service = ProxyService(options, load_config(CONFIG), KEYRING)
        await service.start()
        base = f"http://127.0.0.1:{service.port}"
        async with aiohttp.ClientSession() as client:
            await latencies(client, base, 50, "warm")
            healthy = await latencies(client, base, count, "healthy")
            vendor.mode = "down"
            down = await latencies(client, base, count, "down")
            vendor.mode = "healthy"
            deadline = time.monotonic() + 60
            while (
                service.queue
                and sum(v.get("depth", 0) for s in service.queue.stats().values() for v in s.values())
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.1)
        await service.stop()
    await vendor_runner.cleanup()
    await origin_runner.cleanup()
    return {
        "healthy_p50_ms": statistics.median(healthy) * 1000,
        "healthy_p99_ms": percentile(healthy, 0.99) * 1000,
        "down_p50_ms": statistics.median(down) * 1000,
        "down_p99_ms": percentile(down, 0.99) * 1000,
        "p50_ratio_down_over_healthy": statistics.median(down) / statistics.median(healthy),
        "p99_ratio_down_over_healthy": percentile(down, 0.99) / percentile(healthy, 0.99),
        "events_received_unique": len(vendor.events),
        "vendor_duplicates": vendor.duplicates,
    }


async def queue_rates(events: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        sql = SqliteSql(os.path.join(directory, "shard.sqlite3"))
        store = QueueStore(sql)
        batch = [
            {
                "id": f"{n:032x}",
                "type": "exposure",
                "visitor_id": f"v{n}",
                "experiment": "hero",
                "variant": "bold",
                "config_version": "bench",
                "timestamp": "2026-11-24T00:00:00.000Z",
            }
            for n in range(events)
        ]
        started = time.perf_counter()
        for start in range(0, events, 20):  # 20 events a commit, as a burst of requests produces
            with sql.transaction():
                store.enqueue("v", batch[start : start + 20], 0.0)
        enqueue_seconds = time.perf_counter() - started

        async def accept(request: object) -> SendResult:
            return SendResult(200)

        adapters = {"v": WebhookAdapter("http://vendor.invalid/batch", name="v")}
        policy = DrainPolicy(batches_per_run=1000)
        started = time.perf_counter()
        while store.count("v"):
            await drain_shard(store, adapters, accept, 1.0, random.Random(1), policy)
        drain_seconds = time.perf_counter() - started
        sql.close()
    return {"enqueue_events_per_s": events / enqueue_seconds, "drain_events_per_s": events / drain_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--queue-events", type=int, default=20_000)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = {**asyncio.run(request_path(args.requests)), **asyncio.run(queue_rates(args.queue_events))}
    for name, value in results.items():
        print(f"  {name:<32} {value:12.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
