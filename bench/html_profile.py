"""Where a variant's first rewrite of a 100 KB page spends its CPU, step by step.

    .venv/bin/python bench/html_profile.py [--rounds 300]

Each round times, in turn: lexbor's bare parse + serialise (the floor), a whole first rewrite
(``RewriteMemo`` miss), then the rewrite's steps one by one on a fresh parse of the same page
(the memo's SHA-256 and UTF-8 check, parse, ``match_each``, the changes and the bootstrap,
serialise, the fragment splice). CPU p50 per step (``time.thread_time_ns``), in milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_html import CHANGES, page  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from edgesplit.core import DecisionClaims  # noqa: E402
from edgesplit.pipeline.bootstrap import bootstrap_source, bootstrap_tag  # noqa: E402
from edgesplit.proxy.page_rewriter import RewriteMemo, _apply, _Fragments, _prepend  # noqa: E402
from edgesplit.proxy.selector_batch import match_each  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    rounds = parser.parse_args().rounds
    text = page()
    raw = text.encode()
    claims = DecisionClaims("v", {"hero": "b", "promo": "b"}, "v1", 0, 0)
    head = bootstrap_tag(
        bootstrap_source(claims), None, "/__edgesplit", "edgesplit_decision", "edgesplit_pin"
    )
    selectors = [change.selector for change in CHANGES]
    spent: defaultdict[str, list[int]] = defaultdict(list)
    clock = time.thread_time_ns
    for _ in range(rounds):
        started = clock()
        LexborHTMLParser(text).html  # noqa: B018 - the serialisation is what is timed
        spent["floor: parse + serialise"].append(clock() - started)
        started = clock()
        RewriteMemo().rewrite(raw, CHANGES, head)
        spent["rewrite (whole)"].append(clock() - started)
        marks = [clock()]
        hashlib.sha256(raw).digest()
        raw.decode("utf-8")
        marks.append(clock())
        tree = LexborHTMLParser(raw)
        marks.append(clock())
        found = match_each(tree.root, selectors)
        marks.append(clock())
        fragments = _Fragments()
        for change in CHANGES:  # no node is matched twice by a remove/replace here: no 'gone' check
            for node in found.get(change.selector, ()):
                _apply(node, change, fragments)
        _prepend(tree.head, fragments.marker(head))
        marks.append(clock())
        serialised = tree.html or ""
        marks.append(clock())
        fragments.render(serialised)
        marks.append(clock())
        steps = ["hash + UTF-8 check", "parse", "match all selectors", "apply", "serialise", "splice"]
        for name, begin, end in zip(steps, marks[:-1], marks[1:], strict=True):
            spent[name].append(end - begin)
    for name, values in spent.items():
        print(f"{name:28s} {statistics.median(values[rounds // 10 :]) / 1e6:.3f} ms")


if __name__ == "__main__":
    main()
