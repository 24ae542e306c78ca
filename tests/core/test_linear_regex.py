"""The linear-time matcher: the same answers as ``re`` on the subset it accepts, refusals with
reasons for the rest, and no input that makes it backtrack."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core.linear_regex import UnsafePattern, compile_linear

ATOMS = ["a", "b", "ab", ".", "[ab]", "[^a]", "\\d", "\\w", "\\s", "\\.", "\\b", "^", "$", "x"]


@st.composite
def patterns(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        if depth < 2 and draw(st.booleans()):
            inner = draw(patterns(depth + 1))
            if draw(st.booleans()):
                inner = inner + "|" + draw(patterns(depth + 1))
            atom = f"({inner})" if draw(st.booleans()) else f"(?:{inner})"
        else:
            atom = draw(st.sampled_from(ATOMS))
        quantifier = draw(st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?"]))
        if atom in ("^", "$", "\\b"):
            quantifier = ""
        parts.append(atom + quantifier)
    return "".join(parts)


@settings(deadline=None)  # the automaton is built on first use; Pyodide is slower
@given(patterns(), st.lists(st.text(alphabet="ab1 .x_\n", max_size=12), min_size=1, max_size=8))
def test_same_answers_as_re(pattern: str, texts: list[str]) -> None:
    ours, theirs = compile_linear(pattern), re.compile(pattern)
    for text in texts:
        if "\n" in text and "$" in pattern:
            continue  # re's $ also matches before a final newline; ours only at the end
        assert ours.search(text) == bool(theirs.search(text)), (pattern, text)
        assert ours.fullmatch(text) == bool(theirs.fullmatch(text)), (pattern, text)


@settings(deadline=None)
@given(st.text(alphabet="aAbB", max_size=20))
def test_ignore_case(text: str) -> None:
    assert compile_linear("a+b", ignore_case=True).search(text) == bool(re.search("a+b", text, re.I))


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(a)\\1", "backreferences"),
        ("(?=a)", "lookaround"),
        ("(?<!a)b", "lookaround"),
        ("a*+", "possessive"),
        ("a{5,2}", "ordered"),
        ("a{101}", "at most 100"),
        ("((a{50}){50}){50}", "too large"),
        ("(a", "missing ')'"),
        ("a)", "unbalanced"),
        ("[a", "missing ']'"),
        ("*", "nothing to repeat"),
        ("\\q", "unsupported escape"),
    ],
)
def test_refusals_say_why(pattern: str, why: str) -> None:
    with pytest.raises(UnsafePattern, match=re.escape(why)):
        compile_linear(pattern)


def test_catastrophic_patterns_answer_at_once() -> None:
    """Inputs that make ``re`` backtrack for hours: a bounded number of automaton steps here
    (the transition cache holds at most a few states for these patterns)."""
    for pattern, text in [("(a+)+$", "a" * 5000 + "!"), ("(a|aa)*c", "a" * 5000), ("(.*)*x", "y" * 5000)]:
        compiled = compile_linear(pattern)
        assert compiled.search(text) is False
        assert len(compiled._keys) < 20  # noqa: SLF001 - the DFA stayed small: linear work


@settings(deadline=None, max_examples=60)  # random patterns can make re itself slow
@given(
    st.text(alphabet="ab()[]{}|*+?.^$\\-,0123xudws:=!<>P", max_size=16),
    st.text(alphabet="ab0-\n", max_size=10),
)
def test_any_pattern_text_compiles_or_is_refused_and_agrees_with_re(pattern: str, text: str) -> None:
    try:
        ours = compile_linear(pattern)
    except UnsafePattern:
        return
    try:
        theirs = re.compile(pattern)
    except re.error:
        return  # we accept a little more (e.g. a bare "{"); never something re reads differently
    if "\n" in text and "$" in pattern or "\\Z" in pattern:
        return
    assert ours.search(text) == bool(theirs.search(text)), (pattern, text)
