"""Requests/s at saturation of `edgesplit serve --workers 1` and `--workers 2`, side by side in
one run (rounds alternate between the two, so both see the same machine), with a closed-loop
client: wrk (Debian's `wrk`, C, one thread) with K keep-alive connections, or this script's own
asyncio client when wrk is missing. Reported per round: requests/s, errors, CPU per request of
the proxy's processes (supervisor + workers, from /proc), the client's CPU, and for 2 workers how
the requests split between them (from the shared metrics board).

Also, once: the two ways of running N aiohttp processes on one port (one listening socket
inherited from a parent and served with ``web.SockSite``, or one ``SO_REUSEPORT`` socket each
with ``web.TCPSite(reuse_port=True)``): both serve, and how K fresh connections spread over
two processes with each.

    apt-get install wrk   # optional: a client that leaves the cores to the proxy
    .venv/bin/python bench/bench_workers.py [--connections 32] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench_throughput import hammer

from servers import CONFIG, KEYRING_JSON, TestOrigin, start_app

EDGESPLIT = str(Path(sys.executable).with_name("edgesplit"))
TICKS = os.sysconf("SC_CLK_TCK")
COOKIE = "edgesplit_id=benchvisitor0000000000001"
PATHS = {"cache hit": "/page/home", "uncacheable": "/nocache/home"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def family(pid: int) -> list[int]:
    """``pid`` and its children (the supervisor and its workers)."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def family_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in family(pid))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Proxy:
    def __init__(self, root: Path, name: str, origin_port: int, workers: int) -> None:
        self.directory = root / name
        self.directory.mkdir()
        (self.directory / "config.json").write_text(json.dumps(CONFIG))
        (self.directory / "keys.json").write_text(KEYRING_JSON)
        self.workers = workers
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                EDGESPLIT,
                "serve",
                "--config",
                str(self.directory / "config.json"),
                "--keys",
                str(self.directory / "keys.json"),
                "--origin",
                f"http://127.0.0.1:{origin_port}",
                "--port",
                str(self.port),
                "--queue-dir",
                str(self.directory / "q"),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "serve.log").open("w"),  # a client closing mid-request is logged
        )

    async def ready(self) -> None:
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/__edgesplit/health") as response:
                        if response.status == 200 and len(family(self.process.pid)) >= self.workers:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise SystemExit(f"the proxy with {self.workers} workers did not start")

    def split(self) -> list[float]:
        """Requests each worker process counted so far (2 workers only)."""
        board = self.directory / "q" / "worker-metrics.sqlite3"
        if self.workers == 1 or not board.exists():
            return []
        with sqlite3.connect(board) as db:
            rows = db.execute("SELECT snapshot FROM worker_metrics WHERE process != 'retired'").fetchall()
        return sorted(
            sum(v for _, v in json.loads(data)["counters"].get("edgesplit_requests_total", []))
            for (data,) in rows
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(90)


def wrk(port: int, path: str, connections: int, seconds: float) -> tuple[float, int, float]:
    """requests/s, errors (non-2xx + socket errors), client CPU seconds."""
    before = children_cpu()
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-H",
            f"Cookie: {COOKIE}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, errors + (int(non2xx.group(1)) if non2xx else 0), children_cpu() - before


async def load(port: int, path: str, connections: int, seconds: float) -> tuple[float, int, float]:
    if shutil.which("wrk"):
        return await asyncio.to_thread(wrk, port, path, connections, seconds)
    # The fallback client shares this process with the origin: its CPU is counted with it.
    return await hammer(port, path, connections, seconds, COOKIE), 0, float("nan")


async def proxies_side_by_side(connections: int, seconds: float, rounds: int) -> list[str]:
    lines: list[str] = []
    origin_runner, origin_port = await start_app(TestOrigin().app())
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        proxies = {n: Proxy(root, f"w{n}", origin_port, n) for n in (1, 2)}
        try:
            for proxy in proxies.values():
                await proxy.ready()
                for path in PATHS.values():
                    await load(proxy.port, path, 4, 1.0)  # warm: connections, the cache
            for label, path in PATHS.items():
                totals: dict[int, list[float]] = {n: [0.0, 0.0, 0.0, 0.0] for n in proxies}
                lines.append(
                    f"{label} ({path}), {connections} connections, {rounds} alternating rounds of {seconds:g} s"
                )
                for round_no in range(rounds):
                    for n, proxy in proxies.items():
                        split_before = proxy.split()
                        proxy_before, origin_before = family_cpu(proxy.process.pid), self_cpu()
                        started = time.perf_counter()
                        rate, errors, client_cpu = await load(proxy.port, path, connections, seconds)
                        elapsed = time.perf_counter() - started
                        requests = rate * seconds
                        proxy_cpu = family_cpu(proxy.process.pid) - proxy_before
                        origin_cpu = self_cpu() - origin_before
                        split = [a - b for a, b in zip(proxy.split(), split_before, strict=False)] or [
                            requests
                        ]
                        share = " / ".join(f"{100 * s / max(sum(split), 1):.0f}%" for s in split)
                        lines.append(
                            f"  round {round_no + 1} workers={n}: {rate:8.0f} req/s, errors {errors}, "
                            f"proxy CPU {proxy_cpu / elapsed * 100:5.1f}% of a core "
                            f"({proxy_cpu / max(requests, 1) * 1e6:.0f} us/request), "
                            f"client CPU {client_cpu / elapsed * 100:5.1f}%, origin+bench CPU "
                            f"{origin_cpu / elapsed * 100:5.1f}%, split {share}"
                        )
                        for i, value in enumerate(
                            (rate, errors, proxy_cpu / max(requests, 1) * 1e6, client_cpu / elapsed)
                        ):
                            totals[n][i] += value / rounds
                one, two = totals[1], totals[2]
                lines.append(
                    f"  mean: 1 worker {one[0]:.0f} req/s ({one[2]:.0f} us CPU/request), 2 workers {two[0]:.0f} req/s "
                    f"({two[2]:.0f} us CPU/request); 2 workers / 1 worker = {two[0] / one[0]:.2f}x throughput, "
                    f"{two[2] / one[2]:.2f}x CPU per request; "
                    f"client {one[3] * 100:.0f}% / {two[3] * 100:.0f}% of a core"
                )
        finally:
            for proxy in proxies.values():
                proxy.stop()
    await origin_runner.cleanup()
    return lines


HELLO = """
import os, socket, sys, asyncio
from aiohttp import web

async def main(mode, value):
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text=str(os.getpid())))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if mode == "inherited":
        site = web.SockSite(runner, socket.socket(fileno=int(value)))
    else:
        site = web.TCPSite(runner, "127.0.0.1", int(value), reuse_port=True)
    await site.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def listen_models(connections: int) -> list[str]:
    """Both models serve with aiohttp; how ``connections`` fresh keep-alive connections spread."""
    lines = [f"listening models, 2 aiohttp processes, {connections} connections opened at once, 5 times:"]
    for mode in ("inherited", "reuseport"):
        listener: socket.socket | None = None
        if mode == "inherited":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1024)
            port, value, fds = listener.getsockname()[1], str(listener.fileno()), (listener.fileno(),)
        else:
            port = free_port()
            value, fds = str(port), ()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", HELLO, mode, value], pass_fds=fds, stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        try:
            for process in processes:
                assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            spreads = []
            for _ in range(5):
                pids: Counter[str] = Counter()
                sessions = [aiohttp.ClientSession() for _ in range(connections)]
                try:
                    answers = await asyncio.gather(*(s.get(f"http://127.0.0.1:{port}/") for s in sessions))
                    for answer in answers:
                        pids[await answer.text()] += 1
                finally:
                    await asyncio.gather(*(s.close() for s in sessions))
                spreads.append("/".join(str(n) for n in sorted(pids.values(), reverse=True)))
            lines.append(
                f"  {mode:<9} ({'web.SockSite' if listener else 'web.TCPSite reuse_port'}): {', '.join(spreads)}"
            )
        finally:
            for process in processes:
                process.kill()
                process.wait()
                if process.stdout is not None:
                    process.stdout.close()
            if listener is not None:
                listener.close()
    return lines


async def main_async(connections: int, seconds: float, rounds: int) -> None:
    client = "wrk -t1 (Debian's wrk)" if shutil.which("wrk") else "the asyncio client of bench_throughput.py"
    print(
        f"{os.cpu_count()} cores shared by the client ({client}), the origin and the proxy; "
        f"load average before the run: {os.getloadavg()[0]:.1f}"
    )
    for line in await listen_models(connections):
        print(line, flush=True)
    for line in await proxies_side_by_side(connections, seconds, rounds):
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.connections, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
