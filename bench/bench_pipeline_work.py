"""edgesplit's own work per request, without any HTTP: the pipeline (sanitize, verify the
visitor's cookies, decide, sign, build cookies, count, emit) in front of an in-process origin
that answers at once, for a returning visitor (visitor + decision cookies from an earlier
visit) and a new visitor, in N experiments that all apply to the page.

    .venv/bin/python bench/bench_pipeline_work.py [--experiments 20] [--requests 20000]

Reported as CPU time per request (``time.process_time``), so a busy machine slows it less
than wall time would. The issue's target: at most 100 us for a returning visitor in 20
experiments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from edgesplit import load_config
from edgesplit.core import ConfigHolder, HmacKey, Keyring
from edgesplit.local.memory_outbox import MemoryOutbox
from edgesplit.local.runtime import SystemClock, TaskBackground, new_visitor_id
from edgesplit.pipeline import Headers, Pipeline, ProxyRequest, ProxyResponse

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
    return Pipeline(
        config=ConfigHolder(load_config(bench_config(experiments))),
        keyring=KEYRING,
        origin=InstantOrigin(),
        outbox=MemoryOutbox(limit=1000),
        clock=clock,
        new_id=new_visitor_id,
        background=TaskBackground(),
        cache=None,
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiments", type=int, nargs="+", default=[1, 3, 20])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = [asyncio.run(main_async(n, args.requests)) for n in args.experiments]
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
