"""Run an artillery scenario against the self-hosted proxy (started for the run) or a target.

    .venv/bin/python scripts/loadrun.py steady|vendor-outage|cache [--rate N --duration S]
                                       [--target URL] [--no-baseline] [--report DIR]

Without --target, the demo's origin and vendor simulator come up on 127.0.0.1 in one process
and `edgesplit serve` in another, and go down after the run. `steady` first runs the same load
against the origin directly (the baseline, same rate, same run) and prints the latency the
proxy adds. `vendor-outage` takes the
vendor down for the middle third, brings it back, waits for the queue to drain and checks that
the vendor has every exposure the proxy emitted, once. Exits non-zero when artillery's ensure
thresholds or these checks fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARTILLERY = ROOT / "node_modules" / ".bin" / "artillery"
DEMO_CONFIG = ROOT / "src" / "edgesplit" / "demo" / "config.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def post_json(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


class DemoStack:
    """The demo's origin and vendor simulator in one process, and the proxy in another (as it
    would run in front of a real origin), sharing one signing keyring."""

    def __init__(self, log_dir: Path) -> None:
        self.ports = [free_port() for _ in range(4)]
        demo_proxy = self.ports[3]  # the demo's own proxy stays idle
        self.proxy, self.origin, self.vendor = (f"http://127.0.0.1:{p}" for p in self.ports[:3])
        bin_dir = ROOT / ".venv" / "bin"
        env = {**os.environ, "PATH": str(bin_dir) + os.pathsep + os.environ["PATH"]}
        keys = log_dir / "keys.json"
        keys.write_text(
            subprocess.run(
                [str(bin_dir / "edgesplit"), "keys", "generate"], capture_output=True, text=True, check=True
            ).stdout
        )
        self.logs = [(log_dir / "backends.log").open("w"), (log_dir / "proxy.log").open("w")]
        self.processes = [
            subprocess.Popen(
                [
                    str(bin_dir / "edgesplit"),
                    "demo",
                    "--port",
                    str(demo_proxy),
                    "--origin-port",
                    str(self.ports[1]),
                    "--vendor-port",
                    str(self.ports[2]),
                    "--keys",
                    str(keys),
                ],
                stdout=self.logs[0],
                stderr=subprocess.STDOUT,
                env=env,
            ),
            subprocess.Popen(
                [
                    str(bin_dir / "edgesplit"),
                    "serve",
                    "--config",
                    str(DEMO_CONFIG),
                    "--origin",
                    self.origin,
                    "--port",
                    str(self.ports[0]),
                    "--keys",
                    str(keys),
                    "--vendor-url",
                    f"{self.vendor}/batch",
                    "--queue-dir",
                    str(log_dir / "state"),
                    "--log-level",
                    "warning",
                    # One process: the event check below counts exposures minus the de-duplicated
                    # ones, and de-duplication is per worker (docs/workers.md).
                    "--workers",
                    "1",
                ],
                stdout=self.logs[1],
                stderr=subprocess.STDOUT,
                env=env,
            ),
        ]
        deadline = time.monotonic() + 30
        for url in (f"http://127.0.0.1:{demo_proxy}/__edgesplit/health", f"{self.proxy}/__edgesplit/health"):
            while True:
                try:
                    get(url)
                    break
                except OSError:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                        raise SystemExit(f"the load-run stack did not start; see {log_dir}") from None
                    time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


SMOKE_ENSURE = {
    # A smoke run checks that the scenario works, not how fast this machine is: its latency
    # threshold is lifted past the HTTP timeout and every condition becomes "no failed users".
    # (Overrides merge into the scenario's lists element by element, so each entry is replaced.)
    "thresholds": [{"http.response_time.p99": 600_000}],
    "conditions": [{"expression": "vusers.failed == 0"}] * 2,
}


def artillery(
    scenario: str, target: str, rate: int | None, duration: int | None, report: Path, smoke: bool = False
) -> dict:
    command = [
        str(ARTILLERY),
        "run",
        str(ROOT / "artillery" / f"{scenario}.yml"),
        "--target",
        target,
        "--output",
        str(report),
        "--quiet",
    ]
    overrides: dict[str, Any] = {}
    if rate is not None or duration is not None:
        overrides["phases"] = [{"duration": duration or 60, "arrivalRate": rate or 1000}]
    if smoke:
        overrides["ensure"] = SMOKE_ENSURE
    if overrides:
        command += ["--overrides", json.dumps({"config": overrides})]
    env = {
        **os.environ,
        "PATH": str(ROOT / ".venv" / "bin") + os.pathsep + os.environ["PATH"],
        "ARTILLERY_DISABLE_TELEMETRY": "true",
    }
    result = subprocess.run(command, cwd=ROOT / "artillery", env=env, capture_output=True, text=True)
    data = json.loads(report.read_text()) if report.exists() else {}
    data["_exit"] = result.returncode
    data["_stdout"] = result.stdout[-4000:] + result.stderr[-4000:]
    return data


def summary(report: dict) -> dict[str, float]:
    aggregate = report.get("aggregate", {})
    latency = aggregate.get("summaries", {}).get("http.response_time", {})
    counters = aggregate.get("counters", {})
    errors = sum(v for k, v in counters.items() if k.startswith("errors.")) + sum(
        v for k, v in counters.items() if re.fullmatch(r"http\.codes\.5\d\d", k)
    )
    return {
        "requests": counters.get("http.requests", 0),
        "p50_ms": latency.get("p50", 0.0),
        "p99_ms": latency.get("p99", 0.0),
        "errors": errors,
        "cache_hit": counters.get("cache.hit", 0),
        "cache_miss": counters.get("cache.miss", 0),
        "rate": aggregate.get("rates", {}).get("http.request_rate", 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=("steady", "vendor-outage", "cache"))
    parser.add_argument("--target", help="a deployed Worker (default: start the demo stack)")
    parser.add_argument("--rate", type=int, help="arrivals per second (default: the scenario's)")
    parser.add_argument("--duration", type=int, help="seconds (default: the scenario's)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the direct-origin baseline run")
    parser.add_argument(
        "--smoke", action="store_true", help="check that the scenario works; no latency or ratio thresholds"
    )
    parser.add_argument("--report", default=str(ROOT / ".cache" / "load"), help="where reports go")
    args = parser.parse_args()
    out = Path(args.report).resolve()
    out.mkdir(parents=True, exist_ok=True)
    stack = None if args.target else DemoStack(out)
    failures: list[str] = []
    results: dict[str, dict] = {}
    try:
        target = args.target or stack.proxy  # type: ignore[union-attr]
        if stack is not None and args.scenario == "steady" and not args.no_baseline:
            baseline = artillery(
                "steady", stack.origin, args.rate, args.duration, out / "baseline.json", args.smoke
            )
            results["origin (direct)"] = summary(baseline)
        toggles: list[threading.Timer] = []
        if stack is not None and args.scenario == "vendor-outage":
            duration = args.duration or 60
            toggles = [
                threading.Timer(duration / 3, post_json, (f"{stack.vendor}/__sim/mode", {"mode": "down"})),
                threading.Timer(
                    2 * duration / 3, post_json, (f"{stack.vendor}/__sim/mode", {"mode": "healthy"})
                ),
            ]
            for timer in toggles:
                timer.start()
        report = artillery(
            args.scenario, target, args.rate, args.duration, out / f"{args.scenario}.json", args.smoke
        )
        for timer in toggles:
            timer.join()
        results["through edgesplit"] = summary(report)
        if report["_exit"] != 0:
            failures.append(
                f"artillery exited {report['_exit']} (an ensure threshold failed?):\n{report['_stdout']}"
            )
        if stack is not None and args.scenario == "vendor-outage":
            failures += check_every_event_arrived(stack)
        if args.scenario == "cache":
            hits, misses = (
                results["through edgesplit"]["cache_hit"],
                results["through edgesplit"]["cache_miss"],
            )
            results["through edgesplit"]["hit_ratio"] = hits / (hits + misses) if hits + misses else 0.0
    finally:
        if stack is not None:
            stack.stop()
    for name, numbers in results.items():
        print(
            f"{name:>18}: "
            + ", ".join(
                f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in numbers.items()
            )
        )
    if "origin (direct)" in results:
        base, proxied = results["origin (direct)"], results["through edgesplit"]
        print(
            f"{'added by edgesplit':>18}: p50 {proxied['p50_ms'] - base['p50_ms']:+.1f} ms, "
            f"p99 {proxied['p99_ms'] - base['p99_ms']:+.1f} ms"
        )
    (out / "summary.json").write_text(json.dumps(results, indent=2))
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def check_every_event_arrived(stack: DemoStack) -> list[str]:
    deadline = time.monotonic() + 120
    while True:
        metrics = get(f"{stack.proxy}/__edgesplit/metrics").decode()
        emitted = metric(metrics, "edgesplit_exposures_total") - metric(
            metrics, "edgesplit_exposures_deduplicated_total"
        )
        depth = metric(metrics, "edgesplit_queue_depth")
        stats = json.loads(get(f"{stack.vendor}/stats"))
        if (depth == 0 and stats["unique"] >= emitted) or time.monotonic() > deadline:
            break
        time.sleep(1)
    print(
        f"    vendor outage: {int(emitted)} exposures emitted, {stats['unique']} received once each "
        f"({stats['duplicates']} redeliveries collapsed), queue depth {int(depth)}"
    )
    dropped = metric(metrics, 'edgesplit_queue_events_total{kind="dropped')
    if stats["unique"] != emitted or depth or dropped:
        return [
            f"events lost: emitted {emitted}, received {stats['unique']}, pending {depth}, dropped {dropped}"
        ]
    return []


if __name__ == "__main__":
    raise SystemExit(main())
