"""A variant's selectors matched in one walk of the page, not one walk per change.

lexbor's selector engine walks the tree once per query, and on a 100 KB page ten walks cost more
than parsing it (bench/bench_html.py). Given a selector list (``a, b, c``) lexbor walks once and
reports a node once for every entry of the list it matches, in document order; what it does not
say is which entry. So the entries of each reported node are told apart here: a cheap necessary
condition read off each selector's last compound (its type, ids, classes and attribute names)
leaves, for almost every node, exactly as many candidates as lexbor reported matches, which are
then the matches. Whenever the counts differ, lexbor decides each candidate alone (``css_first``
from the node itself, so a walk of that node's subtree at most). lexbor stays the only matcher:
the condition only narrows down which of its answers is which, and errs on the side of "maybe".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from selectolax.lexbor import LexborCSSSelector, LexborNode

__all__ = ["match_each"]

_NAME = re.compile(r"-?[A-Za-z_][A-Za-z0-9_-]*")
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|\*")
_ATTRIBUTE_NAME = re.compile(r"\[\s*([A-Za-z_][A-Za-z0-9_:.-]*)")
_finders = threading.local()


def _finder() -> LexborCSSSelector:
    """One lexbor selector engine per thread, reused across pages (creating one per page costs
    more than a walk of it); lexbor's engine is not thread-safe."""
    finder: LexborCSSSelector | None = getattr(_finders, "finder", None)
    if finder is None:
        finder = _finders.finder = LexborCSSSelector()
    return finder


@dataclass(frozen=True, slots=True)
class _Subject:
    """What an element must have to match a selector (lower case; empty: nothing known)."""

    tag: str | None = None
    ids: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()

    def may_match(self, node: _Facts) -> bool:
        return (
            (self.tag is None or self.tag == node.tag)
            and self.ids <= node.ids
            and self.classes <= node.classes
            and self.attributes <= node.attributes
        )


@dataclass(frozen=True, slots=True)
class _Facts:
    """An element as generously as the subjects read it: any spelling lexbor could match."""

    tag: str
    ids: frozenset[str]
    classes: frozenset[str]
    attributes: frozenset[str]

    @classmethod
    def of(cls, node: LexborNode) -> _Facts:
        names: set[str] = set()
        values: dict[str, str] = {}
        for name, value in node.attributes.items():
            lowered = name.lower()
            names.update((lowered, lowered.rpartition(":")[2]))
            values[lowered] = (value or "").lower()
        return cls(
            (node.tag or "").lower(),
            _tokens(values.get("id")),
            _tokens(values.get("class")),
            frozenset(names),
        )


def _tokens(value: str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset((value, value.strip(), *value.split()))


def _skip_group(text: str, at: int, close: str) -> int:
    """The index after the ``close`` that ends the group opened just before ``at`` (quotes and
    nested groups skipped), or ``len(text)`` if it never closes."""
    depth, quote = 1, ""
    for index in range(at, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0:
                return index + 1 if char == close else len(text)
    return len(text)


def _last_compound(selector: str) -> str:
    """The compound after the last top-level combinator: the part the matched element itself
    must satisfy."""
    start, index = 0, 0
    while index < len(selector):
        char = selector[index]
        if char in "([":
            index = _skip_group(selector, index + 1, ")" if char == "(" else "]")
            continue
        if char.isspace() or char == ">":
            start = index + 1
        index += 1
    return selector[start:]


@lru_cache(maxsize=4096)
def _subject(selector: str) -> _Subject:
    """The necessary condition for ``selector`` (nothing, for anything it does not understand)."""
    compound = _last_compound(selector)
    tag = None
    index = 0
    if (match := _TYPE.match(compound)) is not None:
        tag = None if match.group() == "*" else match.group().lower()
        index = match.end()
    ids: list[str] = []
    classes: list[str] = []
    attributes: list[str] = []
    while index < len(compound):
        char = compound[index]
        if char in "#.":
            if (match := _NAME.match(compound, index + 1)) is None:
                return _Subject()
            (ids if char == "#" else classes).append(match.group().lower())
            index = match.end()
        elif char == "[":
            if (match := _ATTRIBUTE_NAME.match(compound, index)) is None:
                return _Subject()
            attributes.append(match.group(1).lower())
            index = _skip_group(compound, index + 1, "]")
        elif char == ":":  # pseudo-classes (and :not, whose condition is not required) add none
            end = _NAME.match(compound, index + 1)
            if end is None:
                return _Subject()
            index = end.end()
            if compound.startswith("(", index):
                index = _skip_group(compound, index + 1, ")")
        else:
            return _Subject()
    return _Subject(tag, frozenset(ids), frozenset(classes), frozenset(attributes))


def _matches_itself(node: LexborNode, selector: str) -> bool:
    first = node.css_first(selector)  # the node comes first in its own subtree
    return first is not None and first.mem_id == node.mem_id


def match_each(root: LexborNode, selectors: Sequence[str]) -> dict[str, list[LexborNode]]:
    """Each selector's matches under ``root`` (``root`` included), in document order: what
    ``root.css(selector)`` gives for each, from one walk of the tree.

    Telling a node's matches apart by lexbor (a walk of the node's subtree at most, each) is
    allowed as many times as there are selectors: past that (selectors whose last compound says
    nothing, as ``:not(p)``, on a page of deep nesting) each selector gets its own walk instead,
    so a page costs at most about twice what one walk per selector costs."""
    distinct = list(dict.fromkeys(selectors))
    if len(distinct) <= 1:
        return _one_walk_each(root, distinct)
    counts: dict[int, int] = {}
    nodes: dict[int, LexborNode] = {}  # first seen first: document order
    for node in _finder().find(", ".join(distinct), root):
        counts[node.mem_id] = counts.get(node.mem_id, 0) + 1
        nodes.setdefault(node.mem_id, node)
    subjects = [_subject(selector) for selector in distinct]
    found: dict[str, list[LexborNode]] = {selector: [] for selector in distinct}
    budget = len(distinct)
    for mem_id, node in nodes.items():
        facts = _Facts.of(node)
        maybe = [
            selector for selector, subject in zip(distinct, subjects, strict=True) if subject.may_match(facts)
        ]
        if len(maybe) != counts[mem_id]:  # more candidates than matches (or, never seen, fewer)
            pool = maybe if len(maybe) > counts[mem_id] else distinct
            budget -= len(pool)
            if budget < 0:
                return _one_walk_each(root, distinct)
            maybe = [selector for selector in pool if _matches_itself(node, selector)]
        for selector in maybe:
            found[selector].append(node)
    return found


def _one_walk_each(root: LexborNode, selectors: list[str]) -> dict[str, list[LexborNode]]:
    return {selector: _finder().find(selector, root) for selector in selectors}
