"""The realistic mix through nginx + ``edgesplit decide``, through ``edgesplit serve`` and straight
to the origin, one after the other in one run, with artillery: p50/p99, errors, and CPU time per
request of each side's processes (from /proc: utime + stime, artillery's own excluded).

    .venv/bin/python bench/bench_nginx.py [--rate 1000] [--duration 20] [--out bench/results]

The mix, per arrival one request: a quarter new visitors (no cookie), three quarters returning
visitors carrying real cookies (a visitor id and a decision cookie signed with the run's keyring,
a pool of 2,000); a quarter of the requests go to uncacheable pages (``no-store``); three
experiments; 8 KB HTML pages from an aiohttp origin that verifies the decision header. The vendor
simulator receives the exposures. Needs Debian's nginx (scripts/setup.sh installs it as root).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from loadrun import ARTILLERY, summary  # noqa: E402

BIN = ROOT / ".venv" / "bin"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
CONFIG = {
    "schema_version": 1,
    "version": "bench-nginx-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "hero",
            "variants": [{"key": "control"}, {"key": "bold"}],
            "targeting": {"paths": ["/", "/product/**"]},
        },
        {
            "key": "pricing",
            "variants": [{"key": "control"}, {"key": "cards"}, {"key": "table"}],
            "targeting": {"paths": ["/pricing"]},
        },
        {
            "key": "checkout",
            "variants": [{"key": "control"}, {"key": "green"}],
            "targeting": {"paths": ["/account/**", "/product/**"]},
        },
    ],
}
SCENARIOS = [
    # (name, weight, url, returning)
    ("returning, home", 3, "/", True),
    ("returning, pricing", 3, "/pricing", True),
    ("returning, product", 3, "/product/{{ $randomNumber(1, 50) }}", True),
    ("returning, account (uncacheable)", 3, "/account/{{ $randomNumber(1, 50) }}", True),
    ("new, home", 1, "/", False),
    ("new, pricing", 1, "/pricing", False),
    ("new, product", 1, "/product/{{ $randomNumber(1, 50) }}", False),
    ("new, account (uncacheable)", 1, "/account/{{ $randomNumber(1, 50) }}", False),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the origin and vendor (a separate process, so its CPU is its own) ------------------------


def serve_backends(origin_port: int, vendor_port: int, keys_path: str) -> None:
    import asyncio

    from aiohttp import web

    from edgesplit import load_keyring
    from edgesplit.core import verify_token
    from edgesplit.proxy.vendor_sim import VendorSimulator

    keyring = load_keyring(Path(keys_path).read_text())
    filler = "<p>" + "lorem ipsum dolor sit amet " * 10 + "</p>\n"

    async def page(request: web.Request) -> web.Response:
        token = request.headers.get("x-edgesplit-decision")
        verified = token is not None and verify_token(token, keyring, time.time()).ok
        head = f"<!doctype html><title>{request.path}</title><p>verified: {verified}</p>\n"
        body = (head + filler * (8192 // len(filler) + 1))[:8192]
        cache = "no-store" if request.path.startswith("/account/") else "public, max-age=0, s-maxage=60"
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": cache})

    async def main() -> None:
        origin = web.Application()
        origin.router.add_get("/{tail:.*}", page)
        runners = []
        for app, port in ((origin, origin_port), (VendorSimulator().app(), vendor_port)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for runner in runners:
            await runner.cleanup()

    asyncio.run(main())


# -- measuring --------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def wait_for(url: str, processes: list[subprocess.Popen[Any]], deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
                return
        except (OSError, urllib.error.HTTPError):
            if time.monotonic() > end or any(p.poll() is not None for p in processes):
                raise SystemExit(f"{url} did not come up") from None
            time.sleep(0.2)


def wait_for_path(path: Path, processes: list[subprocess.Popen[Any]], deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while not path.exists():
        if time.monotonic() > end or any(p.poll() is not None for p in processes):
            raise SystemExit(f"{path} did not appear")
        time.sleep(0.2)


def stop(processes: list[subprocess.Popen[Any]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def mint_visitors(count: int, keys_path: Path, out: Path) -> None:
    """Returning visitors' real cookies: the visitor id and the decision cookie edgesplit sets."""
    from edgesplit import load_config, load_keyring
    from edgesplit.pipeline import Headers, ProxyRequest
    from edgesplit.pipeline.decide import decide

    config, keyring = load_config(CONFIG), load_keyring(keys_path.read_text())
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        for n in range(count):
            visitor = f"benchvisitor{n:06d}"
            headers = Headers([("user-agent", UA), ("cookie", f"edgesplit_id={visitor}")])
            request = ProxyRequest("GET", "http://127.0.0.1/", headers)
            decision = decide(
                request,
                headers,
                {"edgesplit_id": visitor},
                config,
                keyring,
                now=time.time(),
                new_id=lambda: "unused",
                exposure_window_seconds=1800,
            )
            assert decision.decision_cookie is not None
            writer.writerow([f"edgesplit_id={visitor}; {decision.decision_cookie.split(';')[0]}"])


def scenario_file(directory: Path, rate: int, duration: int) -> Path:
    scenarios = []
    for name, weight, url, returning in SCENARIOS:
        headers = {"User-Agent": UA, **({"Cookie": "{{ cookie }}"} if returning else {})}
        scenarios.append(
            {"name": name, "weight": weight, "flow": [{"get": {"url": url, "headers": headers}}]}
        )
    document = {
        "config": {
            "target": "http://127.0.0.1",
            "phases": [{"duration": duration, "arrivalRate": rate}],
            "payload": {"path": "visitors.csv", "fields": ["cookie"], "order": "random"},
            "http": {"timeout": 10, "pool": 64},
        },
        "scenarios": scenarios,
    }
    path = directory / "mix.yml"
    path.write_text(json.dumps(document, indent=2))  # YAML is a superset of JSON
    return path


def run_artillery(script: Path, target: str, report: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "ARTILLERY_DISABLE_TELEMETRY": "true",
    }
    command = [str(ARTILLERY), "run", str(script), "--target", target, "--output", str(report), "--quiet"]
    subprocess.run(command, cwd=script.parent, env=env, capture_output=True, text=True, check=False)
    return json.loads(report.read_text()) if report.exists() else {}


def warm(base: str) -> None:
    for path in ("/", "/pricing", "/product/1", "/account/1"):
        for _ in range(3):
            request = urllib.request.Request(base + path, headers={"User-Agent": UA})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()


def measure(
    name: str, base: str, pids: list[int], origin_pids: list[int], script: Path, work: Path
) -> dict[str, Any]:
    warm(base)
    before, origin_before = [cpu_seconds([pid]) for pid in pids], cpu_seconds(origin_pids)
    report = run_artillery(script, base, work / f"{name.replace(' ', '_')}.json")
    after, origin_after = [cpu_seconds([pid]) for pid in pids], cpu_seconds(origin_pids)
    numbers: dict[str, Any] = summary(report)
    requests = max(numbers["requests"], 1)
    spent = [round((a - b) / requests * 1e6) for a, b in zip(after, before, strict=True)]
    numbers["cpu_us_per_request"] = sum(spent)
    numbers["cpu_us_per_request_by_process"] = spent
    numbers["origin_cpu_us_per_request"] = round((origin_after - origin_before) / requests * 1e6)
    print(f"{name}: {numbers}", flush=True)
    return numbers


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1000, help="arrivals (= requests) per second")
    parser.add_argument("--duration", type=int, default=20, help="seconds per target")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--label", default="nginx", help="result files: OUT/LABEL.txt and OUT/LABEL.json")
    parser.add_argument(
        "--decide-over", choices=("unix", "tcp"), default="unix", help="nginx to decide (default unix)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, reports)")
    parser.add_argument("--backends", nargs=3, help=argparse.SUPPRESS)  # internal: origin+vendor process
    args = parser.parse_args()
    if args.backends:
        serve_backends(int(args.backends[0]), int(args.backends[1]), args.backends[2])
        return 0
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("needs Debian's nginx: scripts/setup.sh installs it when run as root")
    work = Path(tempfile.mkdtemp(prefix="edgesplit-bench-nginx-"))
    keys = work / "keys.json"
    keys.write_text(
        subprocess.run(
            [str(BIN / "edgesplit"), "keys", "generate"], capture_output=True, text=True, check=True
        ).stdout
    )
    config = work / "config.json"
    config.write_text(json.dumps(CONFIG))
    mint_visitors(2000, keys, work / "visitors.csv")
    script = scenario_file(work, args.rate, args.duration)
    origin_port, vendor_port, serve_port, decide_port, nginx_port = (free_port() for _ in range(5))
    origin = f"http://127.0.0.1:{origin_port}"
    vendor = f"http://127.0.0.1:{vendor_port}/batch"
    python = str(BIN / "python")
    backends = subprocess.Popen(
        [python, __file__, "--backends", str(origin_port), str(vendor_port), str(keys)]
    )
    results: dict[str, Any] = {}
    try:
        wait_for(origin + "/", [backends])
        results["direct to the origin"] = measure("direct", origin, [], [backends.pid], script, work)

        log = (work / "serve.log").open("w")
        serve = subprocess.Popen(
            [str(BIN / "edgesplit"), "serve", "--config", str(config), "--origin", origin, "--port", str(serve_port),
             "--keys", str(keys), "--vendor-url", vendor, "--queue-dir", str(work / "serve-state"),
             "--log-level", "warning", "--workers", "1"],  # one process: its CPU is read from /proc
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{serve_port}"
            wait_for(base + "/__edgesplit/health", [serve])
            results["edgesplit serve"] = measure("serve", base, [serve.pid], [backends.pid], script, work)
        finally:
            stop([serve])
            log.close()

        state = work / "nginx"
        state.mkdir()
        socket_path = work / "decide.sock"
        over_unix = ["--unix-socket", str(socket_path)] if args.decide_over == "unix" else []
        decide_address = f"unix:{socket_path}" if over_unix else f"127.0.0.1:{decide_port}"
        epoch = state / "edgesplit-epoch.conf"
        conf = subprocess.run(
            [str(BIN / "edgesplit"), "nginx-config", "--config", str(config), "--origin", origin,
             "--decide", decide_address, "--listen", f"127.0.0.1:{nginx_port}",
             "--state-dir", str(state), "--user", "root", "--workers", "1"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (state / "nginx.conf").write_text(conf)
        log = (work / "decide.log").open("w")
        decide = subprocess.Popen(
            [str(BIN / "edgesplit"), "decide", "--config", str(config), "--port", str(decide_port),
             "--keys", str(keys), "--vendor-url", vendor, "--queue-dir", str(work / "decide-state"),
             "--epoch-file", str(epoch), "--nginx-pid", str(state / "nginx.pid"), "--log-level", "warning",
             *over_unix],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes = [decide]
        try:
            wait_for_path(socket_path, processes) if over_unix else wait_for(
                f"http://127.0.0.1:{decide_port}/__edgesplit/health", processes
            )
            server = subprocess.Popen(
                [nginx, "-p", str(state), "-c", str(state / "nginx.conf"), "-e", str(state / "error.log"),
                 "-g", "daemon off;"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            processes.append(server)
            base = f"http://127.0.0.1:{nginx_port}"
            wait_for(base + "/__edgesplit/health", processes)
            pids = [decide.pid, server.pid, *children(server.pid)]
            results["nginx + edgesplit decide"] = measure("nginx", base, pids, [backends.pid], script, work)
        finally:
            stop(list(reversed(processes)))
            log.close()
    finally:
        stop([backends])
    direct = results["direct to the origin"]
    for name in ("edgesplit serve", "nginx + edgesplit decide"):
        numbers = results[name]
        numbers["p99_added_ms"] = round(numbers["p99_ms"] - direct["p99_ms"], 1)
        numbers["p50_added_ms"] = round(numbers["p50_ms"] - direct["p50_ms"], 1)
    command = (
        f".venv/bin/python bench/bench_nginx.py --rate {args.rate} --duration {args.duration}"
        f" --decide-over {args.decide_over} --label {args.label}"
    )
    lines = [
        f"# {command}",
        f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end (the machine is shared: other developers' tests ran meanwhile)",
        f"{'':28} {'requests':>9} {'errors':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>11} {'origin us/req':>14}",
    ]
    for name, numbers in results.items():
        lines.append(
            f"{name:28} {numbers['requests']:>9} {numbers['errors']:>7} {numbers['p50_ms']:>7} {numbers['p99_ms']:>7}"
            f" {numbers['cpu_us_per_request']:>11} {numbers['origin_cpu_us_per_request']:>14}"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.label}.txt").write_text(text)
    (out / f"{args.label}.json").write_text(
        json.dumps({"command": command, "results": results}, indent=2) + "\n"
    )
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
