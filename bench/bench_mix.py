"""The realistic mix, side by side in one run: the direct origin, a bare aiohttp+uvloop
pass-through proxy (bench/mix/bare_proxy.py) and `edgesplit serve` (with and without a vendor),
each driven by artillery from node_modules on the same machine, one after another.

    .venv/bin/python bench/bench_mix.py [--rate 1000] [--duration 60]          # the mix
    .venv/bin/python bench/bench_mix.py --flows [--rate 500] [--duration 30]   # CPU by flow

The mix: new and returning visitors (returning ones carry the visitor and decision cookies
edgesplit gave them on an earlier visit: a pool made through edgesplit before the run), about
a quarter of requests to uncacheable pages, 8 KB HTML, three experiments (one GrowthBook-hashed,
one at 50% coverage). For each target: p50/p99/max (artillery), errors, requests served, and
CPU per request of the proxy process (utime+stime from /proc/<pid>/stat over the run, divided by
the requests served). CPU per request is the figure to trust on a shared machine; p99 is not.

``--flows`` runs one flow at a time (uncacheable page for a new visitor; for a returning one;
a cacheable page, which is a cache hit for edgesplit and an origin round trip for the bare
proxy) against the bare proxy and edgesplit. Raw output goes to bench/results/mix-*.json/txt
(mix-flows-* for --flows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
ARTILLERY = ROOT / "node_modules" / ".bin" / "artillery"
RESULTS = ROOT / "bench" / "results"
TICKS = os.sysconf("SC_CLK_TCK")
CACHEABLE_PAGES = 50
UNCACHEABLE_PAGES = 1000

CONFIG = {
    "schema_version": 1,
    "version": "mix-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "hero",
            "variants": [{"key": "control"}, {"key": "bold"}],
            "targeting": {"paths": ["/page/**", "/account/**"]},
        },
        {
            "key": "layout",
            "hash": "growthbook-v2",
            "variants": [
                {"key": "control", "weight": 0.34},
                {"key": "cards", "weight": 0.33},
                {"key": "table", "weight": 0.33},
            ],
            "targeting": {"paths": ["/page/**"]},
        },
        {
            "key": "account-nav",
            "coverage": 0.5,
            "variants": [{"key": "control"}, {"key": "tabs"}],
            "targeting": {"paths": ["/account/**"]},
        },
    ],
}

# `edgesplit serve` from the source tree in argv[1] (the venv's own edgesplit is a path entry
# too, later on sys.path), for --baseline-src.
BASELINE_LAUNCHER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from edgesplit.cli import main; sys.exit(main(sys.argv[1:]))"
)
CACHEABLE = f"/page/{{{{ $randomNumber(1, {CACHEABLE_PAGES}) }}}}"
UNCACHEABLE = f"/account/{{{{ $randomNumber(1, {UNCACHEABLE_PAGES}) }}}}"
RETURNING = {"Cookie": "{{ cookie }}"}
# name: (weight in the mix, path, returning visitor?)
FLOWS = {
    "new-cacheable": (30, CACHEABLE, False),
    "new-uncacheable": (10, UNCACHEABLE, False),
    "returning-cacheable": (45, CACHEABLE, True),
    "returning-uncacheable": (15, UNCACHEABLE, True),
}
# --flows: which flows, and what each is for edgesplit.
BY_FLOW = {
    "new-uncacheable": "uncacheable page, new visitor",
    "returning-uncacheable": "uncacheable page, returning visitor",
    "returning-cacheable": "cacheable page, returning visitor (edgesplit: a cache hit)",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (its threads included), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of the whole line


def wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float = 30.0) -> None:
    limit = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > limit:
                raise SystemExit(f"{process.args!r} did not come up at {url}: {exc}") from None
            time.sleep(0.1)


@dataclass
class Process:
    name: str
    command: list[str]
    probe: str
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("wb")
        self.popen = subprocess.Popen(
            self.command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        wait_until_up(self.probe, self.popen)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Target:
    name: str
    url: str
    process: Process | None
    """The proxy whose CPU is measured (None: the direct origin)."""


class Stack:
    """The origin and sink, the bare proxy, and edgesplit with and without a vendor (``stacks``:
    also edgesplit on web.Application and the bare proxy on granian)."""

    def __init__(
        self, work: Path, edgesplit_env: dict[str, str], stacks: bool = False, baseline_src: str | None = None
    ) -> None:
        self.work = work
        origin_port, self.sink_port = free_port(), free_port()
        self.origin_url = f"http://127.0.0.1:{origin_port}"
        self.sink_url = f"http://127.0.0.1:{self.sink_port}"
        python = str(BIN / "python")
        self.origin = Process(
            "origin",
            [python, str(ROOT / "bench" / "mix" / "origin.py"), str(origin_port), str(self.sink_port)],
            f"{self.origin_url}/page/1",
            work / "origin.log",
        )
        config = work / "config.json"
        config.write_text(json.dumps(CONFIG))
        keys = work / "keys.json"
        keys.write_text(
            subprocess.run(
                [str(BIN / "edgesplit"), "keys", "generate"], capture_output=True, text=True, check=True
            ).stdout
        )
        self.processes = [self.origin]
        self.targets = [Target("direct origin", self.origin_url, None)]
        self._bare("bare proxy", "bare_proxy.py")
        edgesplit = [str(BIN / "edgesplit")]
        for name, vendor in (("edgesplit", True), ("edgesplit, no vendor", False)):
            self._edgesplit(name, edgesplit, config, keys, vendor, edgesplit_env)
        if baseline_src:  # before/after in one run: another source tree (e.g. main's), no vendor
            launcher = [python, "-c", BASELINE_LAUNCHER, baseline_src]
            self._edgesplit("edgesplit, baseline src", launcher, config, keys, False, edgesplit_env)
        if stacks:  # the HTTP stack comparison: the stack edgesplit had, and granian's floor
            before = [python, str(ROOT / "bench" / "mix" / "edgesplit_app_stack.py")]
            self._edgesplit("edgesplit on web.Application", before, config, keys, True, edgesplit_env)
            self._bare("bare granian", "bare_granian.py")

    def _bare(self, name: str, script: str) -> None:
        """A pass-through proxy from bench/mix in front of the origin."""
        port = free_port()
        command = [str(BIN / "python"), str(ROOT / "bench" / "mix" / script), str(port), self.origin_url]
        process = Process(name, command, f"http://127.0.0.1:{port}/page/1", self.work / f"{script}.log")
        self.processes.append(process)
        self.targets.append(Target(name, f"http://127.0.0.1:{port}", process))

    def _edgesplit(
        self, name: str, launcher: list[str], config: Path, keys: Path, vendor: bool, env: dict[str, str]
    ) -> None:
        port = free_port()
        command = [
            *launcher,
            "serve",
            "--config",
            str(config),
            "--keys",
            str(keys),
            "--origin",
            self.origin_url,
            "--port",
            str(port),
            "--queue-dir",
            str(self.work / f"queue-{port}"),
            "--log-level",
            "warning",
        ]
        if vendor:
            command += ["--vendor-url", f"{self.sink_url}/batch"]
        if name != "edgesplit, baseline src":  # one process, whose CPU /proc gives (main has no flag)
            command += ["--workers", "1"]
        probe = f"http://127.0.0.1:{port}/__edgesplit/health"
        process = Process(name, command, probe, self.work / f"edgesplit-{port}.log", env=env)
        self.processes.append(process)
        self.targets.append(Target(name, f"http://127.0.0.1:{port}", process))

    def start(self) -> None:
        for process in self.processes:
            process.start()

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def target(self, name: str) -> Target:
        return next(target for target in self.targets if target.name == name)


async def cookie_pool(edgesplit: str, size: int) -> list[str]:
    """Cookies of ``size`` visitors after a first visit (a cacheable page, then an uncacheable
    one), as their browsers would send them back: the visitor and the decision cookie."""

    async def visit(session: aiohttp.ClientSession, index: int) -> str:
        jar: dict[str, str] = {}
        for path in (f"/page/{index % CACHEABLE_PAGES + 1}", f"/account/{index % UNCACHEABLE_PAGES + 1}"):
            headers = {"cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
            async with session.get(edgesplit + path, headers=headers) as response:
                await response.read()
                for value in response.headers.getall("set-cookie", []):
                    name, _, rest = value.partition("=")
                    jar[name] = rest.split(";", 1)[0]
        return "; ".join(f"{k}={v}" for k, v in jar.items())

    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        pool: list[str] = []
        for start in range(0, size, 64):
            pool += await asyncio.gather(*(visit(session, i) for i in range(start, min(size, start + 64))))
    if not all("edgesplit_id=" in cookie for cookie in pool):
        raise SystemExit("edgesplit gave a visitor no visitor cookie: the pool is not what it should be")
    return pool


def scenario(flows: dict[str, int], rate: int, duration: int, pool_csv: Path) -> dict[str, Any]:
    """An artillery script: one request per arrival, the flows in these proportions."""
    scenarios = []
    for name, weight in flows.items():
        _, path, returning = FLOWS[name]
        request: dict[str, Any] = {"url": path}
        if returning:
            request["headers"] = RETURNING
        scenarios.append({"name": name, "weight": weight, "flow": [{"get": request}]})
    return {
        "config": {
            "target": "http://127.0.0.1",
            "phases": [{"duration": duration, "arrivalRate": rate}],
            # Connections are reused across arrivals, as a CDN or load balancer in front would.
            "http": {"timeout": 10, "pool": 64},
            "payload": {"path": str(pool_csv), "fields": ["cookie"], "order": "random"},
        },
        "scenarios": scenarios,
    }


def artillery(script: dict[str, Any], target: str, work: Path, label: str) -> dict[str, Any]:
    path = work / f"{label}.yml"
    path.write_text(json.dumps(script))  # JSON is YAML
    report = work / f"{label}.report.json"
    env = {**os.environ, "ARTILLERY_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [str(ARTILLERY), "run", str(path), "--target", target, "--output", str(report), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    if not report.exists():
        raise SystemExit(
            f"artillery wrote no report ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return json.loads(report.read_text())


def summary(report: dict[str, Any]) -> dict[str, Any]:
    aggregate = report.get("aggregate", {})
    latency = aggregate.get("summaries", {}).get("http.response_time", {})
    counters = aggregate.get("counters", {})
    codes = {k.rsplit(".", 1)[1]: v for k, v in counters.items() if k.startswith("http.codes.")}
    errors = sum(v for k, v in counters.items() if k.startswith("errors.")) + sum(
        v for code, v in codes.items() if not code.startswith("2")
    )
    return {
        "requests": counters.get("http.requests", 0),
        "responses": counters.get("http.responses", 0),
        "errors": errors,
        "codes": codes,
        "p50_ms": latency.get("median", latency.get("p50", 0.0)),
        "p99_ms": latency.get("p99", 0.0),
        "max_ms": latency.get("max", 0.0),
    }


def run_one(
    stack: Stack, target: Target, script: dict[str, Any], work: Path, label: str, warmup: int
) -> dict[str, Any]:
    """One measured run against ``target``, after an unmeasured warm-up at the same rate (caches
    filled, connections open) so every target starts from the same state."""
    if warmup > 0:
        warm = json.loads(json.dumps(script))
        warm["config"]["phases"] = [
            {"duration": warmup, "arrivalRate": script["config"]["phases"][0]["arrivalRate"]}
        ]
        artillery(warm, target.url, work, f"{label}-warmup")
    watched = {"origin": stack.origin.pid}
    if target.process is not None:
        watched["proxy"] = target.process.pid
    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    report = artillery(script, target.url, work, label)
    after = {name: cpu_seconds(pid) for name, pid in watched.items()}
    row = summary(report)
    served = max(1, row["responses"])
    for name in watched:
        row[f"{name}_cpu_s"] = round(after[name] - before[name], 2)
        row[f"{name}_cpu_us_per_request"] = round((after[name] - before[name]) / served * 1e6, 1)
    row["target"] = target.name
    return row


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def print_rows(title: str, rows: list[dict[str, Any]], lines: list[str]) -> None:
    lines.append(title)
    lines.append(
        f"  {'target':<22} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'proxy CPU/req':>13} {'origin CPU/req':>14}"
    )
    for row in rows:
        proxy = f"{row['proxy_cpu_us_per_request']:.0f} us" if "proxy_cpu_us_per_request" in row else "-"
        lines.append(
            f"  {row['target']:<22} {row['responses']:>8} {row['errors']:>6} {row['p50_ms']:>7.1f} "
            f"{row['p99_ms']:>7.1f} {row['max_ms']:>7.1f} {proxy:>13} {row['origin_cpu_us_per_request']:>11.0f} us"
        )


def ratios(rows: dict[str, dict[str, Any]], lines: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    bare = rows.get("bare proxy")
    for name, row in rows.items():
        if bare is None or name in ("bare proxy", "direct origin") or "proxy_cpu_us_per_request" not in row:
            continue
        cpu = row["proxy_cpu_us_per_request"] / max(1e-9, bare["proxy_cpu_us_per_request"])
        p99 = row["p99_ms"] / max(1e-9, bare["p99_ms"])
        out[f"{name}: CPU/req vs bare"] = round(cpu, 2)
        out[f"{name}: p99 vs bare"] = round(p99, 2)
        lines.append(f"  {name}: CPU/request {cpu:.2f}x the bare proxy's, p99 {p99:.2f}x")
    if "edgesplit" in rows and "edgesplit, no vendor" in rows:
        with_vendor, without = rows["edgesplit"]["p99_ms"], rows["edgesplit, no vendor"]["p99_ms"]
        out["p99 with vendor vs without"] = round(with_vendor / max(1e-9, without), 2)
        lines.append(f"  edgesplit p99 with a vendor {with_vendor / max(1e-9, without):.2f}x without one")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, help="arrivals per second (default 1000; --flows: 500)")
    parser.add_argument("--duration", type=int, help="seconds per target (default 60; --flows: 30)")
    parser.add_argument("--flows", action="store_true", help="CPU per request by flow, bare vs edgesplit")
    parser.add_argument(
        "--stacks",
        action="store_true",
        help="also edgesplit on its former stack (web.Application) and a bare proxy on granian (RSGI)",
    )
    parser.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="also `edgesplit serve` (no vendor) from another source tree, e.g. main's "
        "(git worktree add /tmp/edgesplit-main main; DIR=/tmp/edgesplit-main/src)",
    )
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured seconds before each run")
    parser.add_argument("--pool", type=int, default=2000, help="returning visitors in the cookie pool")
    parser.add_argument(
        "--targets",
        nargs="+",
        help="which targets (default: all four; --flows: the bare proxy and edgesplit, no vendor)",
    )
    parser.add_argument(
        "--edgesplit-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="environment for the edgesplit processes (e.g. to pick an HTTP stack under test)",
    )
    parser.add_argument("--results", default=str(RESULTS), help="where the result files go")
    parser.add_argument("--label", default="", help="suffix of the result files (mix-<label>.json)")
    args = parser.parse_args()
    rate = args.rate or (500 if args.flows else 1000)
    duration = args.duration or (30 if args.flows else 60)
    if not ARTILLERY.exists():
        raise SystemExit(f"{ARTILLERY} is missing: run scripts/setup.sh (npm install) first")
    env = dict(item.split("=", 1) for item in args.edgesplit_env)
    kind = "mix-flows" if args.flows else "mix"
    label = f"{kind}-{args.label}" if args.label else kind
    lines = [
        f"bench/bench_mix.py {' '.join(sys.argv[1:])}".rstrip(),
        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC; machine {machine()}",
        f"rate {rate}/s for {duration} s per target, one target after another, artillery on the same machine",
    ]
    result: dict[str, Any] = {"command": lines[0], "rate": rate, "duration": duration, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="edgesplit-mix-") as tmp:
        work = Path(tmp)
        stack = Stack(work, env, args.stacks, args.baseline_src)
        try:
            stack.start()
            edgesplit = stack.target("edgesplit").url
            pool = asyncio.run(cookie_pool(edgesplit, args.pool))
            pool_csv = work / "cookies.csv"
            pool_csv.write_text("".join(f'"{cookie}"\n' for cookie in pool))
            if args.flows:
                names = args.targets or ["bare proxy", "edgesplit, no vendor"]
                result["flows"] = {}
                for flow, what in BY_FLOW.items():
                    script = scenario({flow: 1}, rate, duration, pool_csv)
                    rows = [
                        run_one(stack, stack.target(n), script, work, f"{flow}-{i}", args.warmup)
                        for i, n in enumerate(names)
                    ]
                    print_rows(f"{flow}: {what}", rows, lines)
                    by_name = {row["target"]: row for row in rows}
                    result["flows"][flow] = {"rows": rows, "ratios": ratios(by_name, lines)}
            else:
                names = args.targets or [target.name for target in stack.targets]
                script = scenario(
                    {name: weight for name, (weight, _, _) in FLOWS.items()}, rate, duration, pool_csv
                )
                rows = [
                    run_one(stack, stack.target(n), script, work, f"mix-{i}", args.warmup)
                    for i, n in enumerate(names)
                ]
                print_rows("realistic mix", rows, lines)
                by_name = {row["target"]: row for row in rows}
                result["rows"] = rows
                result["ratios"] = ratios(by_name, lines)
                direct = by_name.get("direct origin")
                if direct is not None and "edgesplit" in by_name:
                    added = by_name["edgesplit"]["p99_ms"] - direct["p99_ms"]
                    result["p99_added_over_direct_ms"] = round(added, 1)
                    lines.append(f"  edgesplit p99 added over the direct origin: {added:+.1f} ms")
            with urllib.request.urlopen(f"{stack.sink_url}/stats", timeout=5) as response:
                result["vendor_sink"] = json.loads(response.read())
        finally:
            stack.stop()
    lines.append(f"  vendor sink received: {result.get('vendor_sink')}")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{label}.txt").write_text(text)
    (results / f"{label}.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
