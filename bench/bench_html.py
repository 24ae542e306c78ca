"""HTML changes, self-hosted: rewriting a 100 KB page with ten changes (target: p50 < 2 ms).

    .venv/bin/python bench/bench_html.py [--rounds 400] [--alternatives DIR] [--edge]

Measures CPU time per page (``time.thread_time_ns``, so other processes on a busy machine do not
count) and wall time, for:

- ``rewrite``: edgesplit's rewriter (selectolax/lexbor): parse, match ten selectors, apply the
  ten changes, insert the bootstrap script, serialise;
- ``rewrite_per_request``: what the proxy pays per request once a variant's page was rewritten
  (the memo: a SHA-256 of the origin page and a lookup; the first request pays ``rewrite``);
- ``parse_serialise``: lexbor parsing and serialising the same page with no change (the floor);
- with ``--alternatives DIR`` (a directory holding lxml, cssselect and html5lib, e.g. made by
  ``pip install --target DIR lxml cssselect html5lib``; they are not project dependencies), the
  same ten changes with lxml + cssselect and with html5lib + cssselect, as the ratios that
  justify the library choice.

- with ``--edge``, the same page and changes through lol-html compiled to WebAssembly (npm
  ``html-rewriter-wasm``) in Node with JavaScript handlers (``bench/html_edge.mjs``): a lower
  bound for the Worker's rewriting, whose handlers are Python; native lol-html in workerd is
  faster than its WebAssembly build, so this is not the Worker's figure either.

All figures come from one run, side by side; the ratios are what to compare across machines.
"""

from __future__ import annotations

import argparse
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from edgesplit.core import DecisionClaims  # noqa: E402
from edgesplit.core.variant_actions import Change  # noqa: E402
from edgesplit.pipeline.bootstrap import bootstrap_source, bootstrap_tag  # noqa: E402
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


def _timed(run: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(max(5, rounds // 20)):  # warm up
        run()
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(rounds):
        started_cpu, started_wall = time.thread_time_ns(), time.perf_counter_ns()
        run()
        cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - started_wall) / 1e6)
    cpu.sort()
    return {
        "cpu_p50_ms": round(statistics.median(cpu), 3),
        "cpu_p90_ms": round(cpu[int(len(cpu) * 0.9)], 3),
        "cpu_p99_ms": round(cpu[int(len(cpu) * 0.99)], 3),
        "wall_p50_ms": round(statistics.median(wall), 3),
    }


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

    return {"lxml_cssselect": with_lxml, "html5lib_cssselect": with_html5lib}


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
        "rewrite": lambda: rewrite_html(text, CHANGES, head),
        "rewrite_per_request": lambda: memo.rewrite(raw, CHANGES, head),
        "parse_serialise": lambda: LexborHTMLParser(text).html,
    }
    if args.alternatives:
        sys.path.insert(0, args.alternatives)
        runs.update(_alternatives(text))
    results = {name: _timed(run, args.rounds) for name, run in runs.items()}
    if args.edge:
        results["lol_html_wasm_node"] = _edge(text, args.rounds)
    base = results["rewrite"]["cpu_p50_ms"]
    report = {
        "page_bytes": len(text.encode()),
        "changes": len(CHANGES),
        "rounds": args.rounds,
        "python": platform.python_version(),
        "selectolax": metadata.version("selectolax"),
        "results": results,
        "ratios_cpu_p50_over_rewrite": {
            name: round(r["cpu_p50_ms"] / base, 2) for name, r in results.items()
        },
        "target_2ms_p50_cold": base < 2.0,
        "target_2ms_p50_per_request": results["rewrite_per_request"]["cpu_p50_ms"] < 2.0,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
