"""CPU cost of linear-time matching (core.linear_regex) next to Python's backtracking ``re``,
measured side by side in one run: the attack inputs of issue 13 and the everyday cost per request.

    .venv/bin/python bench/security_matching.py > bench/results/security_matching.txt

CPU time (``time.process_time``), best of a few repeats; the machine is shared, so read the
ratios, not the absolute numbers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from edgesplit.core.linear_regex import compile_linear
from edgesplit.core.paths import compile_path_patterns, glob_to_regex
from edgesplit.core.settings import DEFAULT_BOT_PATTERNS


def cpu(work: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def row(label: str, backtracking: float, linear: float) -> None:
    print(f"{label:<58} re {backtracking * 1000:10.3f} ms   linear {linear * 1000:8.3f} ms")


def main() -> None:
    print("# attack inputs (issue 13, finding 4)")
    nested_re, nested_linear = re.compile("(a+)+$"), compile_linear("(a+)+$")
    for n in (16, 18, 20, 22):
        agent = "a" * n + "!"
        row(
            f"$regex (a+)+$ vs {n + 1}-byte user agent",
            cpu(lambda agent=agent: nested_re.search(agent), 1),
            cpu(lambda agent=agent: nested_linear.search(agent)),
        )
    glob = glob_to_regex("/**/**/**/z")
    glob_re, glob_linear = re.compile(glob), compile_linear(glob)
    for size in (250, 500, 1000):
        path = "/" * size
        row(
            f"glob /**/**/**/z vs {size}-byte path",
            cpu(lambda path=path: glob_re.fullmatch(path), 1),
            cpu(lambda path=path: glob_linear.fullmatch(path)),
        )
    print("# everyday cost: the default bot patterns, 10,000 user agents")
    joined = "|".join(f"(?:{p})" for p in DEFAULT_BOT_PATTERNS)
    bots_re, bots_linear = re.compile(joined, re.IGNORECASE), compile_linear(joined, ignore_case=True)
    agents = [
        f"Mozilla/5.0 (X11; Linux x86_64; rv:{n % 40 + 100}.0) Gecko/20100101 Firefox/{n % 40 + 100}.0"
        for n in range(10_000)
    ]
    row(
        "default bot patterns, browser user agents (total)",
        cpu(lambda: [bots_re.search(a) for a in agents]),
        cpu(lambda: [bots_linear.search(a) for a in agents]),
    )
    globs = ("/products/**", "/p/*/x")
    paths_re = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in globs))
    distinct = [f"/products/item-{n}/details" for n in range(10_000)]
    hot = [f"/products/item-{n % 100}/details" for n in range(10_000)]
    for label, urls in (("10,000 distinct paths", distinct), ("10,000 requests over 100 hot paths", hot)):
        matcher = compile_path_patterns(globs)
        assert matcher is not None
        row(
            f"targeting globs, {label} (total)",
            cpu(lambda urls=urls: [paths_re.fullmatch(u) for u in urls], 1),
            cpu(lambda urls=urls, matcher=matcher: [matcher(u) for u in urls], 1),
        )


def hygiene() -> None:
    from edgesplit.pipeline.request_hygiene import TrustedUpstreams, sanitize_request
    from edgesplit.ports.http import Headers, ProxyRequest

    print("# request hygiene (Host check, path, query, forwarding headers), per request")
    headers = Headers(
        [
            ("host", "shop.example"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"),
            ("accept", "text/html"),
            ("cookie", "edgesplit_id=abcdefgh12345678"),
            ("accept-language", "en"),
        ]
    )
    ignored, trusted = ("utm_*", "gclid", "fbclid", "msclkid"), TrustedUpstreams()
    for url in (
        "http://shop.example/products/item-1",
        "http://shop.example/products/item-1?utm_source=x&id=5",
    ):
        request = ProxyRequest("GET", url, headers, None, "198.51.100.7")
        total = cpu(
            lambda request=request: [
                sanitize_request(request, ignored, "x-edgesplit-decision", trusted) for _ in range(20_000)
            ]
        )
        print(f"sanitize_request {url:<58} {total / 20_000 * 1e6:6.1f} us")


if __name__ == "__main__":
    main()
    hygiene()
