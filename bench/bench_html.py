"""HTML changes, self-hosted: rewriting a 100 KB page with ten changes (target: p50 < 2 ms).

    .venv/bin/python bench/bench_html.py [--rounds 400] [--alternatives DIR] [--edge] [--before REV]
                                         [--sequential]

Measures CPU time per page (``time.thread_time_ns``, so other processes on a busy machine do not
count) and wall time, for:

- ``rewrite``: edgesplit's rewriter (selectolax/lexbor) on a variant's first request (a memo
  miss): hash the page, parse, match ten selectors, apply the ten changes, insert the bootstrap
  script, serialise to UTF-8;
- ``rewrite_per_request``: what the proxy pays per request once a variant's page was rewritten
  (the memo: a SHA-256 of the origin page and a lookup; the first request pays ``rewrite``);
- ``parse_serialise``: lexbor parsing and serialising the same page with no change (the floor);
- ``rewrite_one_query_per_change``: the same rewriter with one lexbor query per change instead of
  one walk for all (what the batching in ``proxy/selector_batch.py`` saves);
- with ``--before REV``, ``rewrite_before``: the rewriter as it was at git revision ``REV`` (its
  ``page_rewriter.py`` loaded beside today's), side by side in the same run;
- with ``--alternatives DIR`` (a directory holding lxml, cssselect and html5lib, e.g. made by
  ``pip install --target DIR lxml cssselect html5lib``; they are not project dependencies), the
  same ten changes with lxml + cssselect and with html5lib + cssselect, as the ratios that
  justify the library choice; and, if DIR holds python-lolhtml (``pip install --target DIR
  python-lolhtml``), the ten changes through lol-html's own Python binding (``lolhtml_python``).

- with ``--edge``, the same page and changes through lol-html compiled to WebAssembly (npm
  ``html-rewriter-wasm``) in Node with JavaScript handlers (``bench/html_edge.mjs``): a lower
  bound for the Worker's rewriting, whose handlers are Python; native lol-html in workerd is
  faster than its WebAssembly build, so this is not the Worker's figure either.

All figures come from one run, side by side: the runs take turns round by round, so a change in
the machine's load weighs on all alike, and each starts with caches the others left (closer to
a proxy's memo miss than the same page 300 times in a row). ``--sequential`` times each run's
rounds in a row instead, as the figures before this option were taken. The ratios, above all
to ``parse_serialise`` (lexbor's floor), are what to compare across machines and loads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from edgesplit.core import DecisionClaims  # noqa: E402
from edgesplit.core.variant_actions import Change  # noqa: E402
from edgesplit.pipeline.bootstrap import bootstrap_source, bootstrap_tag  # noqa: E402
from edgesplit.proxy import page_rewriter  # noqa: E402
from edgesplit.proxy.page_rewriter import RewriteMemo, rewrite_html  # noqa: E402

CHANGES = [
    Change("h1.hero", "set_text", "Save 20% this week"),
    Change("a.cta", "add_class", "cta-b"),
    Change("a.cta", "set_attribute", "/signup?plan=b", "href"),
    Change("#promo", "replace", '<section id="promo-b"><h2>New offer</h2><p>Limited time.</p></section>'),
    Change("nav > ul", "append", '<li><a href="/deals">Deals</a></li>'),
    Change("header", "after", '<div class="banner">Free shipping over $50</div>'),
    Change(".card:first-child .price", "set_text", "$19"),
    Change("footer .legal", "remove"),
    Change("[data-track=old]", "remove_attribute", "", "data-track"),
    Change("main", "prepend", '<p class="notice">Prices include VAT.</p>'),
]


def page(target_bytes: int = 100 * 1024) -> str:
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        '<link rel="stylesheet" href="/site.css"><script src="/app.js" defer></script></head><body>'
        '<header><nav><ul><li><a href="/">Home</a></li><li><a href="/shop">Shop</a></li></ul></nav></header>'
        '<main><h1 class="hero">Our products</h1><a class="cta" href="/signup" data-track="old">Start</a>'
        '<div id="promo"><p>Old promo</p></div><div class="grid">'
    )
    tail = '</div></main><footer><p class="legal">Legal text</p><p>Contact</p></footer></body></html>'
    cards = []
    size = len(head) + len(tail)
    n = 0
    while size < target_bytes:
        card = (
            f'<article class="card" id="p{n}"><img src="/img/{n}.jpg" alt="Product {n}" loading="lazy">'
            f'<h3 class="title">Product number {n}</h3><p class="desc">A fine product with a longer '
            f"description, so that the page has realistic text content in it.</p>"
            f'<span class="price">${n % 90 + 10}.99</span><button class="buy" data-id="{n}">Add to cart</button>'
            "</article>"
        )
        cards.append(card)
        size += len(card)
        n += 1
    return head + "".join(cards) + tail


def _once_ms(run: Callable[[], object]) -> float:
    started = time.thread_time_ns()
    run()
    return (time.thread_time_ns() - started) / 1e6


def _timed(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, dict[str, float]]:
    """Each run timed ``rounds`` times, the runs taking turns round by round, so that a change in
    the machine's load while measuring weighs on all of them alike. A run a hundred times slower
    than the others (html5lib) is timed on its own: taking turns with it would leave every other
    run a cold cache."""
    for run in runs.values():
        for _ in range(max(5, rounds // 20)):  # warm up
            run()
    slow = {name for name, run in runs.items() if _once_ms(run) > 50}
    if slow and len(slow) < len(runs):
        together = _timed({name: run for name, run in runs.items() if name not in slow}, rounds)
        return together | _timed({name: runs[name] for name in slow}, rounds)
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started_cpu, started_wall = time.thread_time_ns(), time.perf_counter_ns()
            run()
            cpu[name].append((time.thread_time_ns() - started_cpu) / 1e6)
            wall[name].append((time.perf_counter_ns() - started_wall) / 1e6)
    results = {}
    for name, times in cpu.items():
        times.sort()
        results[name] = {
            "cpu_p50_ms": round(statistics.median(times), 3),
            "cpu_p90_ms": round(times[int(len(times) * 0.9)], 3),
            "cpu_p99_ms": round(times[int(len(times) * 0.99)], 3),
            "wall_p50_ms": round(statistics.median(wall[name]), 3),
        }
    return results


def _alternatives(text: str) -> dict[str, Callable[[], object]]:
    import html5lib
    import lxml.html
    from cssselect import GenericTranslator
    from lxml import etree

    xpaths = [etree.XPath(GenericTranslator().css_to_xpath(c.selector)) for c in CHANGES]

    def apply(root: object) -> None:  # the attribute and text edits only: a lower bound for both
        for change, xpath in zip(CHANGES, xpaths, strict=True):
            for element in xpath(root):
                if change.action == "set_text":
                    element.text = change.text
                    for child in list(element):
                        element.remove(child)
                elif change.action == "set_attribute":
                    element.set(change.name, change.text)

    def with_lxml() -> object:
        root = lxml.html.document_fromstring(text)
        apply(root)
        return lxml.html.tostring(root)

    def with_html5lib() -> object:
        root = html5lib.parse(text, treebuilder="lxml", namespaceHTMLElements=False)
        apply(root)
        return etree.tostring(root)

    runs: dict[str, Callable[[], object]] = {"lxml_cssselect": with_lxml, "html5lib_cssselect": with_html5lib}
    try:
        import lolhtml
    except ImportError:
        return runs
    runs["lolhtml_python"] = _lolhtml(lolhtml, text.encode())
    return runs


def _lolhtml(lolhtml: ModuleType, raw: bytes) -> Callable[[], object]:
    """The ten changes through lol-html's Python binding (streaming; the Worker's handler)."""
    from lolhtml_port import rewrite

    return lambda: rewrite(lolhtml, raw, CHANGES, None)


def _before(revision: str) -> ModuleType:
    """``proxy/page_rewriter.py`` as it was at ``revision``, importable beside today's (before
    issue 18 the proxy lived in ``local/``)."""
    for folder in ("proxy", "local"):
        shown = subprocess.run(
            ["git", "show", f"{revision}:src/edgesplit/{folder}/page_rewriter.py"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if shown.returncode == 0:
            break
    shown.check_returncode()
    source = shown.stdout
    spec = importlib.util.spec_from_loader("edgesplit.proxy.page_rewriter_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "edgesplit.proxy"
    exec(compile(source, f"{revision}:page_rewriter.py", "exec"), module.__dict__)
    return module


def _one_query_per_change(text: str, head: str) -> Callable[[], object]:
    def each(root: object, selectors: list[str]) -> dict[str, object]:
        return {selector: root.css(selector) for selector in selectors}  # type: ignore[attr-defined]

    def run() -> object:
        with mock.patch.object(page_rewriter, "match_each", each):
            return RewriteMemo().rewrite(text.encode(), CHANGES, head)

    return run


def _edge(text: str, rounds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".html", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        node = shutil.which("node", path=str(ROOT / ".venv" / "bin")) or "node"
        out = subprocess.run(
            [node, str(ROOT / "bench" / "html_edge.mjs"), handle.name, str(rounds)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
    return {key: round(value, 3) for key, value in json.loads(out).items() if key.endswith("_ms")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--alternatives", help="a directory holding lxml, cssselect and html5lib")
    parser.add_argument("--edge", action="store_true", help="also time lol-html (WebAssembly) in Node")
    parser.add_argument("--before", metavar="REV", help="also time page_rewriter.py as it was at git REV")
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="time each run's rounds in a row (warm caches), not taking turns",
    )
    args = parser.parse_args()
    text = page()
    claims = DecisionClaims("v", {"hero": "b", "promo": "b"}, "v1", 0, 0)
    head = bootstrap_tag(
        bootstrap_source(claims), None, "/__edgesplit", "edgesplit_decision", "edgesplit_pin"
    )
    out = rewrite_html(text, CHANGES, head)
    assert "Save 20% this week" in out and "promo-b" in out and "Legal text" not in out  # really applied
    memo = RewriteMemo()
    raw = text.encode()
    runs: dict[str, Callable[[], object]] = {
        "rewrite": lambda: RewriteMemo().rewrite(raw, CHANGES, head),  # a variant's first request
        "rewrite_per_request": lambda: memo.rewrite(raw, CHANGES, head),
        "parse_serialise": lambda: LexborHTMLParser(text).html,
        "rewrite_one_query_per_change": _one_query_per_change(text, head),
    }
    if args.before:
        before = _before(args.before)
        assert before.rewrite_html(text, CHANGES, head) == out  # the same page, byte for byte
        runs["rewrite_before"] = lambda: before.RewriteMemo().rewrite(raw, CHANGES, head)
    if args.alternatives:
        sys.path.insert(0, args.alternatives)
        runs.update(_alternatives(text))
    if args.sequential:
        results = {name: _timed({name: run}, args.rounds)[name] for name, run in runs.items()}
    else:
        results = _timed(runs, args.rounds)
    if args.edge:
        results["lol_html_wasm_node"] = _edge(text, args.rounds)
    base = results["rewrite"]["cpu_p50_ms"]
    floor = results["parse_serialise"]["cpu_p50_ms"]
    report = {
        "page_bytes": len(text.encode()),
        "changes": len(CHANGES),
        "rounds": args.rounds,
        "timing": "sequential" if args.sequential else "side by side, round by round",
        "python": platform.python_version(),
        "selectolax": metadata.version("selectolax"),
        "results": results,
        "ratios_cpu_p50_over_rewrite": {
            name: round(r["cpu_p50_ms"] / base, 2) for name, r in results.items()
        },
        "ratios_cpu_p50_over_parse_serialise": {
            name: round(r["cpu_p50_ms"] / floor, 2) for name, r in results.items()
        },
        "target_2ms_p50_cold": base < 2.0,
        "target_2ms_p50_per_request": results["rewrite_per_request"]["cpu_p50_ms"] < 2.0,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
