"""The shared HTML-change table through the self-hosted rewriter (the Worker runs the same table
through lol-html in tests/edge/test_worker_pages.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

from edgesplit.core.selectors import SelectorError, check_selector
from edgesplit.core.variant_actions import Change
from edgesplit.proxy.page_rewriter import RewriteMemo, rewrite_html
from html_table import CASES, case_bootstrap, changes_of, normalise


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_self_hosted_rewriter_gives_the_expected_page(case: dict) -> None:
    assert normalise(rewrite_html(case["document"], changes_of(case))) == normalise(case["expected"])


def test_the_bootstrap_goes_first_into_head() -> None:
    tag = case_bootstrap(0, "v1")
    out = rewrite_html(CASES[0]["document"], [], tag)
    assert out.startswith("<!DOCTYPE html><html><head>" + tag + "<title>")


def test_a_fragment_marker_in_the_page_is_only_text() -> None:
    """A page cannot smuggle markup in through the fragment markers: they hold a secret."""
    forged = "edgesplit0123456789abcdefx0."  # the markers' shape, with a guessed secret
    page = f"<html><head></head><body><p>{forged}</p><div></div></body></html>"
    out = rewrite_html(page, [Change("div", "append", "<b>x</b>")])
    assert f"<p>{forged}</p>" in out and "<div><b>x</b></div>" in out


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab#.[]=>: *()'\"-_1^$~|,+", max_size=30))
def test_every_accepted_selector_is_understood_by_lexbor(text: str) -> None:
    try:
        selector = check_selector(text)
    except SelectorError:
        return
    LexborHTMLParser("<div class=a><b id=b>x</b></div>").css(selector)  # raises on unsupported syntax


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_page_text_is_rewritten_without_error(page: str) -> None:
    out = rewrite_html(
        page, [Change("p", "set_text", "x"), Change("div", "append", "<i>y</i>")], "<script></script>"
    )
    assert isinstance(out, str)


def test_the_memo_rewrites_each_variant_of_a_page_once_within_its_budget() -> None:
    memo = RewriteMemo(max_bytes=64 * 1024)
    page = CASES[0]["document"].encode()
    changes = changes_of(CASES[0])
    first = memo.rewrite(page, changes, None)
    assert memo.rewrite(page, changes, None) is first  # the same variant: served from the memo
    assert memo.rewrite(page, changes, "<script></script>") != first  # another head: another entry
    assert memo.rewrite(page, [], None) != first
    for n in range(200):  # many distinct pages: the budget holds
        memo.rewrite(page + f"<!-- {n} -->".encode(), changes, None)
    assert memo.size <= 64 * 1024
    assert normalise(first.decode()) == normalise(CASES[0]["expected"])
