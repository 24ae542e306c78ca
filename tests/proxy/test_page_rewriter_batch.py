"""The one-walk selector matching and the one-pass fragment splicing of the self-hosted rewriter,
against the plain way (one lexbor query per selector, one replace per fragment) on random pages
and random changes: the rewritten page must be the very same string."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser, LexborNode

from edgesplit.core.selectors import SelectorError, check_selector
from edgesplit.core.variant_actions import ACTIONS, Change
from edgesplit.proxy import page_rewriter
from edgesplit.proxy.page_rewriter import _Fragments, rewrite_html
from edgesplit.proxy.selector_batch import _finder, match_each

TAGS = [
    "div",
    "p",
    "span",
    "a",
    "ul",
    "li",
    "h1",
    "main",
    "section",
    "b",
    "DIV",
    "Li",
    "svg",
    "template",
    "table",
]
WORDS = ["a", "b", "cta", "A", "Cta", "x-y"]
ATTRIBUTES = ["class", "id", "data-x", "href", "lang", "CLASS", "xlink:href"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    """Well-formed or not, with or without a doctype (quirks mode matches classes ignoring case)."""
    parts = [draw(st.sampled_from(["", "<!DOCTYPE html>", "<html><head></head><body>"]))]
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 3))
        tag = draw(st.sampled_from(TAGS))
        if kind == 0:
            attributes = draw(
                st.lists(
                    st.tuples(st.sampled_from(ATTRIBUTES), st.lists(st.sampled_from(WORDS), max_size=3)),
                    max_size=3,
                )
            )
            rendered = "".join(f' {name}="{" ".join(values)}"' for name, values in attributes)
            parts.append(f"<{tag}{rendered}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        else:
            parts.append(draw(st.sampled_from(["text", " ", "x&amp;y", "\u00e9t\u00e9", "edgesplit"])))
    return "".join(parts)


@st.composite
def selectors(draw: st.DrawFn) -> str:
    compounds = []
    for _ in range(draw(st.integers(1, 3))):
        head = draw(st.sampled_from(["", "*", *TAGS[:10]]))
        simple = draw(
            st.lists(
                st.sampled_from(
                    [
                        "#a",
                        "#b",
                        ".a",
                        ".b",
                        ".cta",
                        ".A",
                        "[data-x]",
                        "[data-x=a]",
                        "[data-x~=b]",
                        "[class^=c]",
                        "[class*=t]",
                        "[lang|=a]",
                        "[href]",
                        ":first-child",
                        ":nth-child(2)",
                        ":first-of-type",
                        ":nth-of-type(2)",
                        ":not(.a)",
                        ":not([data-x])",
                        ":not(p)",
                    ]
                ),
                max_size=3,
            )
        )
        compounds.append(head + "".join(simple) or "*")
    combinators = [draw(st.sampled_from([" ", " > ", "  >"])) for _ in compounds[1:]]
    text = compounds[0] + "".join(
        c + compound for c, compound in zip(combinators, compounds[1:], strict=True)
    )
    try:
        return check_selector(text)
    except SelectorError:
        return "p"


@st.composite
def changes(draw: st.DrawFn) -> Change:
    action = draw(st.sampled_from(ACTIONS))
    text = draw(st.sampled_from(["x", "", "<i>frag</i>", "a & b", "edgesplit", "1."]))
    name = draw(st.sampled_from(["data-x", "href", "title"])) if "attribute" in action else ""
    if action in ("add_class", "remove_class"):
        text = draw(st.sampled_from(WORDS))
    return Change(draw(selectors()), action, text, name)


def _one_query_each(root: LexborNode, wanted: list[str]) -> dict[str, list[LexborNode]]:
    return {selector: root.css(selector) for selector in wanted}


def _ids(found: dict[str, list[LexborNode]]) -> dict[str, list[int]]:
    return {selector: [node.mem_id for node in nodes] for selector, nodes in found.items()}


@settings(max_examples=200, deadline=None)
@given(documents(), st.lists(selectors(), max_size=12))
def test_one_walk_finds_what_one_query_per_selector_finds(document: str, wanted: list[str]) -> None:
    root = LexborHTMLParser(document).root
    assert root is not None
    assert _ids(match_each(root, wanted)) == _ids(_one_query_each(root, list(dict.fromkeys(wanted))))


@settings(max_examples=150, deadline=None)
@given(documents(), st.lists(changes(), max_size=10), st.sampled_from([None, "<script>boot()</script>"]))
def test_the_rewritten_page_is_what_one_query_per_change_gives(
    document: str, edits: list[Change], head: str | None
) -> None:
    with mock.patch.object(page_rewriter, "match_each", _one_query_each):
        expected = _outcome(document, edits, head)
    assert _outcome(document, edits, head) == expected


def _outcome(document: str, edits: list[Change], head: str | None) -> tuple[str, str]:
    """The page, or the error (removing the root element fails: the proxy then serves the page
    as the origin sent it, and must keep failing exactly where it failed)."""
    try:
        return "page", rewrite_html(document, edits, head)
    except Exception as error:  # noqa: BLE001 - compared, not swallowed
        return type(error).__name__, str(error)


def test_selectors_that_share_an_element_each_get_it() -> None:
    """One element matched by several selectors (lexbor reports it once per selector)."""
    page = '<div class="a b" id="k" data-x="1"><p class="a">t</p></div><p class="b">u</p>'
    root = LexborHTMLParser(page).root
    assert root is not None
    wanted = [".a", ".b", "#k", "[data-x]", "div", "div .a", "div > p", "p.b", ".a", "*:not(p)"]
    assert _ids(match_each(root, wanted)) == _ids(_one_query_each(root, list(dict.fromkeys(wanted))))


def test_selectors_that_say_nothing_of_their_element_fall_back_to_one_walk_each() -> None:
    """``:not(p)`` and ``:nth-child(3)`` leave every node ambiguous: past a budget of one check
    per selector, each selector gets its own walk (bounded cost), with the same answer."""
    from edgesplit.proxy import selector_batch

    page = "<div>" * 60 + "<span>x</span><i>y</i><b>z</b>" + "</div>" * 60
    root = LexborHTMLParser(page).root
    assert root is not None
    wanted = [":not(p)", ":nth-child(3)", "b"]
    queries: list[str] = []
    real = _finder()

    class Counting:
        def find(self, query: str, node: LexborNode) -> list[LexborNode]:
            queries.append(query)
            return real.find(query, node)

    with mock.patch.object(selector_batch, "_finder", lambda: Counting()):
        found = match_each(root, wanted)
    assert _ids(found) == _ids(_one_query_each(root, wanted))
    assert queries == [", ".join(wanted), *wanted]  # the list walk, then one walk each


def test_quirks_mode_classes_are_matched_as_lexbor_matches_them() -> None:
    """Without a doctype lexbor matches class and id names ignoring case: so must the batch."""
    page = '<div class="CTA" id="Promo">x</div><div class="cta">y</div>'
    root = LexborHTMLParser(page).root
    assert root is not None
    wanted = [".cta", "#promo", "div", ".CTA"]
    assert _ids(match_each(root, wanted)) == _ids(_one_query_each(root, wanted))
    assert len(match_each(root, wanted)[".cta"]) == len(root.css(".cta"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=8), max_size=6),
    st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=20), max_size=6),
)
def test_fragments_are_spliced_where_their_markers_are(texts: list[str], raw: list[str]) -> None:
    fragments = _Fragments()
    markers = [fragments.marker(fragment) for fragment in raw]
    serialised = "".join(text + marker for text, marker in zip(texts, markers, strict=False)) + "tail"
    expected = serialised
    for marker, fragment in zip(markers, raw, strict=True):
        expected = expected.replace(marker, fragment, 1)
    assert fragments.render(serialised) == expected.encode("utf-8")


def test_ten_changes_walk_the_page_once() -> None:
    """The point of the batch: one lexbor query for all of a variant's selectors, not one each."""
    from edgesplit.proxy import selector_batch

    queries: list[str] = []
    real = _finder()

    class Counting:
        def find(self, query: str, node: LexborNode) -> list[LexborNode]:
            queries.append(query)
            return real.find(query, node)

    page = '<header><nav><ul><li>a</li></ul></nav></header><main><h1 class="hero">x</h1>' + (
        '<a class="cta" data-t="o">go</a><div id="promo">p</div><footer><p class="legal">l</p></footer></main>'
    )
    edits = [
        Change(selector, action, value, name)
        for selector, action, value, name in (
            ("h1.hero", "set_text", "y", ""),
            ("a.cta", "add_class", "b", ""),
            ("a.cta", "set_attribute", "/b", "href"),
            ("#promo", "replace", "<i>n</i>", ""),
            ("nav > ul", "append", "<li>d</li>", ""),
            ("header", "after", "<hr>", ""),
            ("footer .legal", "remove", "", ""),
            ("[data-t=o]", "remove_attribute", "", "data-t"),
            ("main", "prepend", "<p>v</p>", ""),
            ("li:first-child", "set_text", "z", ""),
        )
    ]
    with mock.patch.object(selector_batch, "_finder", lambda: Counting()):
        out = rewrite_html(page, edits)
    assert len(queries) == 1 and queries[0].count(",") == 8  # nine distinct selectors, one list
    assert '<a class="cta b" href="/b">go</a>' in out and "<i>n</i>" in out and "legal" not in out
