"""Throughput and CPU cost of one `edgesplit serve` process on today's SQLite state against the
same proxy with ``--state redis://`` (a real redis-server), measured side by side in one run:
rounds alternate between the two so both see the same machine load. Also the Redis commands per
request and the Redis memory one experiment's counts take per day.

    .venv/bin/python bench/bench_shared_state.py [--connections 16] [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "state"))
from bench_throughput import hammer
from cluster import document
from redis import asyncio as aioredis
from redis_server import RedisServer, free_port

from edgesplit.state import CountBatch
from edgesplit.state.redis_state import RedisState
from servers import KEYRING_JSON, TestOrigin, start_app

EDGESPLIT = str(Path(sys.executable).with_name("edgesplit"))
CONFIG = document("bench-1", "checkout", ["/page/**"], guardrails={"min_sample": 1000, "metrics": ["errors"]})

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def start_proxy(
    directory: Path, origin_port: int, state_url: str | None
) -> tuple[subprocess.Popen[bytes], int]:
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(CONFIG))
    (directory / "keys.json").write_text(KEYRING_JSON)
    port = free_port()
    command = [
        EDGESPLIT,
        "serve",
        "--config",
        str(directory / "config.json"),
        "--keys",
        str(directory / "keys.json"),
    ]
    command += [
        "--origin",
        f"http://127.0.0.1:{origin_port}",
        "--port",
        str(port),
        "--queue-dir",
        str(directory / "q"),
    ]
    command += ["--log-level", "warning", "--workers", "1"]  # one process: its CPU is read from /proc
    command += ["--state", state_url] if state_url else []
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return process, port
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("the proxy did not start")


async def commands_processed(client: aioredis.Redis) -> int:
    return int((await client.info("stats"))["total_commands_processed"])


async def day_of_counts(url: str) -> tuple[int, int]:
    """Bytes Redis holds for one experiment with two variants after a day with traffic every hour."""
    state = RedisState(url, prefix="sizing")
    now = time.time()
    start = int(now // 86_400) * 86_400
    rows = [
        (
            "sizing-exp",
            variant,
            start + hour * 3600,
            {"exposures": 1.0, "conversions": 1.0, "requests": 1.0, "errors": 1.0, "latency_ms": 1.5},
        )
        for hour in range(24)
        for variant in ("a", "b")
    ]
    await state.add_counts(CountBatch("sizing", 1, rows))
    client = state.redis
    keys = [key async for key in client.scan_iter("sizing:*")]
    usage = [int(await client.memory_usage(key) or 0) for key in keys]
    await state.close()
    return sum(usage), len(keys)


async def main_async(connections: int, seconds: float, rounds: int) -> None:
    origin_runner, origin_port = await start_app(TestOrigin().app())
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        (root / "redis").mkdir()
        redis = RedisServer(root / "redis", fsync="everysec")
        redis.start()
        client = aioredis.Redis.from_url(redis.url)
        proxies = {
            "sqlite": await start_proxy(root / "sqlite", origin_port, None),
            "redis": await start_proxy(root / "redis-proxy", origin_port, redis.url),
        }
        cookie = "edgesplit_id=benchvisitor01"
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in proxies}
        redis_commands = 0
        redis_requests = 0
        try:
            for _, port in proxies.values():
                await hammer(port, "/page/home", 1, 0.5, cookie)  # warm: the page is cached
            for _ in range(rounds):
                for name, (process, port) in proxies.items():
                    cpu_before = cpu_seconds(process.pid)
                    commands_before = await commands_processed(client)
                    started = time.perf_counter()
                    rate = await hammer(port, "/page/home", connections, seconds, cookie)
                    requests = rate * (time.perf_counter() - started)
                    cpu = cpu_seconds(process.pid) - cpu_before
                    results[name].append((rate, cpu / max(requests, 1.0) * 1e6))
                    if name == "redis":
                        redis_commands += await commands_processed(client) - commands_before - 1
                        redis_requests += int(requests)
            memory, keys = await day_of_counts(redis.url)
        finally:
            for process, _ in proxies.values():
                process.terminate()
                process.wait(timeout=30)
            await client.aclose()
            redis.stop()
    await origin_runner.cleanup()
    print(
        f"cache-hit requests, {connections} connections, {rounds} alternating rounds of {seconds:.0f} s each"
    )
    for name, samples in results.items():
        rates = ", ".join(f"{rate:.0f}" for rate, _ in samples)
        cpu = sum(c for _, c in samples) / len(samples)
        print(f"  {name:<7} req/s per round: {rates}; proxy CPU {cpu:.0f} us/request")
    sqlite_rate = sum(r for r, _ in results["sqlite"])
    redis_rate = sum(r for r, _ in results["redis"])
    sqlite_cpu = sum(c for _, c in results["sqlite"])
    redis_cpu = sum(c for _, c in results["redis"])
    print(
        f"  redis/sqlite throughput {redis_rate / sqlite_rate:.3f}x, CPU per request {redis_cpu / sqlite_cpu:.3f}x"
    )
    print(
        f"  Redis commands per proxied request: {redis_commands / max(redis_requests, 1):.5f} "
        f"({redis_commands} commands)"
    )
    print(f"  Redis memory, one experiment x 2 variants, 24 hourly buckets: {memory} bytes in {keys} keys")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.connections, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
