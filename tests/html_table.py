"""The shared HTML-change table (tests/cases/html_changes.json) and how outputs are compared.

Normalisation: lol-html writes the page back byte for byte except where it was changed, while
the self-hosted rewriter re-serialises the parsed document. So every output (and the expected
one) is parsed by one HTML5 parser (lexbor, via selectolax) and serialised again before the
exact comparison: that settles attribute quoting and escaping, implied tags and the doctype's
case, and nothing else (text, attribute values and their order, and element structure count).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from edgesplit.core import DecisionClaims
from edgesplit.core.variant_actions import Change
from edgesplit.pipeline.bootstrap import bootstrap_source, bootstrap_tag

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parent / "cases" / "html_changes.json").read_text(encoding="utf-8")
)


def case_key(index: int) -> str:
    return f"case-{index:02d}"


def changes_of(case: dict[str, Any]) -> list[Change]:
    def value(item: dict[str, str]) -> str:
        for field in ("text", "value", "class", "html"):
            if field in item:
                return item[field]
        return ""

    return [
        Change(item["selector"], item["action"], value(item), item.get("name", ""))
        for item in case["changes"]
    ]


def normalise(html: str) -> str:
    return LexborHTMLParser(html).html or ""


def case_bootstrap(index: int, config_version: str) -> str:
    """The bootstrap tag a visitor in variant b of case ``index`` gets (no CSP on case pages)."""
    claims = DecisionClaims("", {case_key(index): "b"}, config_version, 0, 0)
    return bootstrap_tag(
        bootstrap_source(claims), None, "/__edgesplit", "edgesplit_decision", "edgesplit_pin"
    )


def case_experiments() -> list[dict[str, Any]]:
    """One experiment per case, every visitor in variant b, on its own path /case/NN."""
    return [
        {
            "key": case_key(i),
            "variants": [{"key": "control", "weight": 0}, {"key": "b", "changes": case["changes"]}],
            "targeting": {"paths": [f"/case/{i:02d}"]},
        }
        for i, case in enumerate(CASES)
    ]


FUZZ_CHANGES: list[dict[str, str]] = [
    {"selector": "h1", "action": "set_text", "text": "Fuzzed & <new>"},
    {"selector": ".a", "action": "add_class", "class": "added"},
    {"selector": "div > p", "action": "set_attribute", "name": "data-x", "value": 'q"v'},
    {"selector": "li:nth-child(2)", "action": "remove"},
    {"selector": "[data-k]", "action": "remove_attribute", "name": "data-k"},
    {"selector": "#i1", "action": "replace", "html": "<b>replaced</b>"},
    {"selector": "section p:first-of-type", "action": "before", "html": "<hr>"},
    {"selector": "ul", "action": "append", "html": "<li>appended</li>"},
    {"selector": "span:not(.b)", "action": "prepend", "html": "<i>p</i>"},
    {"selector": "a.b", "action": "remove_class", "class": "b"},
    {"selector": "div.b", "action": "set_text", "text": "wiped"},
    {"selector": "li.a", "action": "after", "html": "<li>after</li>"},
    {"selector": "em", "action": "remove"},
    {"selector": "p > span", "action": "set_attribute", "name": "title", "value": "t"},
]
"""The changes the differential fuzz applies to generated pages (tests/edge/test_worker_pages.py)."""
