"""edgesplit's own work per request, without any HTTP: the pipeline (sanitize, verify the
visitor's cookies, decide, sign, build cookies, count, emit) in front of an in-process origin
that answers at once, for a returning visitor (visitor + decision cookies from an earlier
visit) and a new visitor, in N experiments that all apply to the page.

    .venv/bin/python bench/bench_pipeline_work.py [--experiments 1 3 20] [--requests 20000]
    .venv/bin/python bench/bench_pipeline_work.py --compare /tmp/edgesplit-main/src

Reported as CPU time per request (``time.process_time``), so a busy machine slows it less
than wall time would. The issue's target: at most 100 us for a returning visitor in 20
experiments. ``--compare DIR`` measures this tree and another source tree (e.g. main's, from
``git worktree add /tmp/edgesplit-main main``) side by side: rounds alternate between the
two, each in its own process, and the medians and their ratio are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(
    0, os.environ.get("EDGESPLIT_BENCH_SRC") or str(Path(__file__).resolve().parent.parent / "src")
)
from edgesplit import load_config
from edgesplit.core import ConfigHolder, HmacKey, Keyring
from edgesplit.pipeline import Headers, Pipeline, ProxyRequest, ProxyResponse

try:  # --compare may load a tree from before issue 18, where the proxy was edgesplit.local
    from edgesplit.proxy.memory_outbox import MemoryOutbox
    from edgesplit.proxy.runtime import SystemClock, TaskBackground, new_visitor_id
except ImportError:
    from edgesplit.local.memory_outbox import MemoryOutbox  # type: ignore[no-redef]
    from edgesplit.local.runtime import SystemClock, TaskBackground, new_visitor_id  # type: ignore[no-redef]

OWN_SRC = str(Path(__file__).resolve().parent.parent / "src")
KEYRING = Keyring((HmacKey("bench-key", bytes(range(32))),))
PAGE = b"<html><body>" + b"x" * 8000 + b"</body></html>"


def bench_config(experiments: int) -> dict[str, Any]:
    """``experiments`` experiments on every page: every third GrowthBook-hashed, every fifth at
    50% coverage, the rest the native hash; like the realistic mix's, but more of them."""
    listed = []
    for index in range(experiments):
        experiment: dict[str, Any] = {
            "key": f"exp-{index}",
            "variants": [{"key": "control"}, {"key": "treatment"}],
            "targeting": {"paths": ["/**"]},
        }
        if index % 3 == 1:
            experiment["hash"] = "growthbook-v2"
        if index % 5 == 2:
            experiment["coverage"] = 0.5
        listed.append(experiment)
    return {"schema_version": 1, "version": "bench-1", "identity": {"secure": False}, "experiments": listed}


class InstantOrigin:
    """Answers every request at once with an uncacheable 8 KB page (no I/O)."""

    async def fetch(self, request: ProxyRequest) -> ProxyResponse:
        headers = Headers(
            [
                ("content-type", "text/html; charset=utf-8"),
                ("content-length", str(len(PAGE))),
                ("cache-control", "no-store"),
            ]
        )
        return ProxyResponse(200, headers, PAGE)


def make_pipeline(experiments: int) -> Pipeline:
    clock = SystemClock()
    config = ConfigHolder(load_config(bench_config(experiments)))
    origin, outbox, background = InstantOrigin(), MemoryOutbox(limit=1000), TaskBackground()
    try:
        from edgesplit.pipeline.parts import PipelinePorts, Shared
    except ImportError:  # a tree from before the constructor was grouped (issue 18)
        return Pipeline(  # type: ignore[call-arg]
            config=config,
            keyring=KEYRING,
            origin=origin,
            outbox=outbox,
            clock=clock,
            new_id=new_visitor_id,
            background=background,
        )
    return Pipeline(
        config=config,
        keyring=KEYRING,
        ports=PipelinePorts(origin=origin, outbox=outbox, background=background),
        shared=Shared.create(clock, new_visitor_id),
    )


BROWSER_HEADERS = [
    ("host", "shop.example"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br"),
]


def request(cookie: str | None) -> ProxyRequest:
    headers = list(BROWSER_HEADERS)
    if cookie:
        headers.append(("cookie", cookie))
    return ProxyRequest("GET", "http://shop.example/products/42?ref=home", Headers(headers), None, "10.0.0.7")


def returning_cookie(response: ProxyResponse) -> str:
    """The Cookie header a browser sends after this response's Set-Cookie fields."""
    pairs = [value.split(";", 1)[0] for value in response.headers.get_all("set-cookie")]
    return "; ".join(pairs + ["_ga=GA1.2.1234567890.1700000000", "theme=dark"])


async def measure(pipeline: Pipeline, cookie: str | None, count: int) -> float:
    """CPU seconds per ``pipeline.handle`` call, over ``count`` calls."""
    for _ in range(min(count, 500)):  # warm up
        await pipeline.handle(request(cookie))
    started = time.process_time()
    for _ in range(count):
        await pipeline.handle(request(cookie))
    return (time.process_time() - started) / count


async def main_async(experiments: int, count: int) -> dict[str, Any]:
    pipeline = make_pipeline(experiments)
    first = await pipeline.handle(request(None))
    cookie = returning_cookie(first)
    returning = await measure(pipeline, cookie, count)
    new = await measure(pipeline, None, count)
    cookies_again = await pipeline.handle(request(cookie))
    return {
        "experiments": experiments,
        "requests": count,
        "returning_us": round(returning * 1e6, 1),
        "new_us": round(new * 1e6, 1),
        "returning_sets_cookies": len(cookies_again.headers.get_all("set-cookie")),
        "python": sys.version.split()[0],
    }


async def just_run(experiments: int, flow: str, count: int) -> None:
    """``count`` requests of one flow and nothing else (what --instructions counts)."""
    pipeline = make_pipeline(experiments)
    first = await pipeline.handle(request(None))
    cookie = returning_cookie(first) if flow == "returning" else None
    for _ in range(50):
        await pipeline.handle(request(cookie))
    for _ in range(count):
        await pipeline.handle(request(cookie))


def instructions(src: str, experiments: int, flow: str, low: int = 100, high: int = 600) -> float:
    """Instructions per request under valgrind's callgrind: the difference between a run of
    ``high`` and one of ``low`` requests, so start-up and imports cancel out. Independent of
    how busy the machine is (slow: about a minute a figure)."""
    counts = []
    for count in (low, high):
        command = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--just-run",
            flow,
            str(count),
            "--experiments",
            str(experiments),
        ]
        env = {**os.environ, "EDGESPLIT_BENCH_SRC": src, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        collected = [line for line in done.stderr.splitlines() if "Collected :" in line]
        counts.append(int(collected[-1].rsplit(":", 1)[1].strip()))
    return (counts[1] - counts[0]) / (high - low)


def compare(other_src: str, experiments: list[int], count: int, rounds: int) -> list[dict[str, Any]]:
    """Medians of ``rounds`` alternating runs of this tree and ``other_src``, each a process."""
    runs: dict[str, list[list[dict[str, Any]]]] = {"this": [], "other": []}
    for _ in range(rounds):
        for name, src in (("this", OWN_SRC), ("other", other_src)):
            command = [sys.executable, __file__, "--requests", str(count), "--raw", "--experiments"]
            done = subprocess.run(
                command + [str(n) for n in experiments],
                env={**os.environ, "EDGESPLIT_BENCH_SRC": src},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(done.stdout))
    rows = []
    for index, n in enumerate(experiments):
        row: dict[str, Any] = {"experiments": n}
        for name in ("this", "other"):
            for flow in ("returning_us", "new_us"):
                row[f"{name}_{flow}"] = statistics.median(run[index][flow] for run in runs[name])
        for flow in ("returning_us", "new_us"):
            row[f"ratio_{flow}"] = round(row[f"this_{flow}"] / row[f"other_{flow}"], 2)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", type=int, nargs="+", default=[1, 3, 20])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--compare", metavar="SRC", help="another source tree to measure side by side")
    parser.add_argument("--rounds", type=int, default=3, help="--compare: alternating rounds per tree")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instructions per request under valgrind (machine-load independent; with --compare too)",
    )
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--just-run", nargs=2, metavar=("FLOW", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare and not (Path(args.compare) / "edgesplit" / "__init__.py").is_file():
        parser.error(f"--compare {args.compare}: no edgesplit package there (give the tree's src folder)")
    if args.just_run:
        asyncio.run(just_run(args.experiments[0], args.just_run[0], int(args.just_run[1])))
        return
    if args.instructions:
        trees = [("this", OWN_SRC)] + ([("other", args.compare)] if args.compare else [])
        rows = []
        print("instructions per request (valgrind callgrind, no HTTP)")
        for n in args.experiments:
            for flow in ("returning", "new"):
                row: dict[str, Any] = {"experiments": n, "flow": flow}
                for name, src in trees:
                    row[name] = round(instructions(src, n, flow))
                ratio = f" ({row['this'] / row['other']:.2f}x of {row['other']:,})" if args.compare else ""
                print(f"  {n:3d} experiments, {flow:9s} visitor: {row['this']:,}{ratio}")
                rows.append(row)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        return
    if args.compare:
        rows = compare(args.compare, args.experiments, args.requests, args.rounds)
        print(f"pipeline work per request, CPU time, medians of {args.rounds} alternating rounds")
        print(f"  this tree: {OWN_SRC}\n  other:     {args.compare}")
        for row in rows:
            print(
                f"  {row['experiments']:3d} experiments: returning {row['this_returning_us']:7.1f} us vs"
                f" {row['other_returning_us']:7.1f} us ({row['ratio_returning_us']:.2f}x);"
                f" new {row['this_new_us']:7.1f} us vs {row['other_new_us']:7.1f} us ({row['ratio_new_us']:.2f}x)"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        return
    results = [asyncio.run(main_async(n, args.requests)) for n in args.experiments]
    if args.raw:
        print(json.dumps(results))
        return
    print("edgesplit pipeline work per request (CPU time, no HTTP; target <= 100 us returning, 20 exp.)")
    for result in results:
        print(
            f"  {result['experiments']:3d} experiments: returning visitor {result['returning_us']:7.1f} us"
            f"   new visitor {result['new_us']:7.1f} us"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
