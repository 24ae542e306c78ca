"""The CSS selector subset HTML changes may use: what both shells match the same way.

The Worker matches with Cloudflare's ``HTMLRewriter`` (lol-html, streaming: it cannot look at
siblings that follow or at ancestors' later content) and the self-hosted proxy with lexbor
(through selectolax). This subset is what both implement identically:

- type (``div``), universal (``*``), ``#id``, ``.class``;
- attributes: ``[name]``, ``[name=value]``, ``~=``, ``^=``, ``$=``, ``*=``, ``|=``, values
  quoted (no backslash escapes) or as identifiers;
- ``:first-child``, ``:first-of-type``, ``:nth-child(n)``, ``:nth-of-type(n)`` with a
  positive integer, and ``:not(...)`` of one compound made of the simple selectors above;
- descendant (whitespace) and child (``>``) combinators.

Everything else (``+``, ``~``, selector lists, ``:has``, ``:last-child``, escapes, namespaces,
non-ASCII identifiers) is refused with the position and the reason.
"""

from __future__ import annotations

import re

__all__ = ["SelectorError", "check_selector", "MAX_SELECTOR_LENGTH"]

MAX_SELECTOR_LENGTH = 512
MAX_COMPOUNDS = 16
_IDENT = re.compile(r"-?[A-Za-z_][A-Za-z0-9_-]*")
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|\*")
_ATTRIBUTE = re.compile(
    r"\[\s*(?P<name>[A-Za-z_][A-Za-z0-9_:.-]*)\s*"
    r"(?:(?P<op>[~^$*|]?=)\s*(?P<value>\"[^\"\\\n]*\"|'[^'\\\n]*'|-?[A-Za-z_][A-Za-z0-9_-]*)\s*)?\]"
)
_INDEXED = re.compile(r":(?P<name>nth-child|nth-of-type)\(\s*(?P<n>[1-9][0-9]{0,5})\s*\)")
_PLAIN_PSEUDO = re.compile(r":(?P<name>first-child|first-of-type)(?![A-Za-z0-9_(-])")
_COMBINATOR = re.compile(r"\s*>\s*|\s+")


class SelectorError(ValueError):
    """A selector outside the subset; the message says where and why."""


def _fail(selector: str, at: int, why: str) -> SelectorError:
    return SelectorError(f"{why} at character {at + 1} of {selector!r}"[:300])


def _simple(selector: str, at: int, *, negated: bool) -> int | None:
    """The end of one simple selector (not a type) starting at ``at``, or None if none starts."""
    char = selector[at]
    if char in "#.":
        match = _IDENT.match(selector, at + 1)
        if match is None:
            raise _fail(selector, at + 1, f"expected a name after {char!r} (ASCII, no escapes)")
        return match.end()
    if char == "[":
        match = _ATTRIBUTE.match(selector, at)
        if match is None:
            raise _fail(selector, at, "unsupported attribute selector (no flags, escapes or namespaces)")
        return match.end()
    if char == ":":
        for pattern in (_PLAIN_PSEUDO, _INDEXED):
            match = pattern.match(selector, at)
            if match is not None:
                return match.end()
        if selector.startswith(":not(", at):
            if negated:
                raise _fail(selector, at, ":not() cannot nest")
            end = _compound(selector, at + 5, negated=True)
            if end >= len(selector) or selector[end] != ")":
                raise _fail(selector, end, ":not() takes one compound selector and a ')'")
            return end + 1
        raise _fail(
            selector,
            at,
            "unsupported pseudo-class (allowed: :first-child, :first-of-type, "
            ":nth-child(n), :nth-of-type(n), :not(...))",
        )
    return None


def _compound(selector: str, at: int, *, negated: bool = False) -> int:
    start = at
    match = _TYPE.match(selector, at)
    if match is not None:
        at = match.end()
    while at < len(selector):
        end = _simple(selector, at, negated=negated)
        if end is None:
            break
        at = end
    if at == start:
        found = repr(selector[at]) if at < len(selector) else "the end"
        raise _fail(selector, at, f"expected a selector, found {found}")
    return at


def check_selector(selector: str) -> str:
    """Return ``selector`` stripped if it is in the subset; raise ``SelectorError`` if not."""
    if not selector.strip():
        raise SelectorError("must not be empty")
    if len(selector) > MAX_SELECTOR_LENGTH:
        raise SelectorError(f"must be at most {MAX_SELECTOR_LENGTH} characters")
    if not selector.isascii() or any(ord(char) < 32 and char not in " \t" for char in selector):
        raise SelectorError("must be printable ASCII (no escapes or control characters)")
    text = selector.strip()
    at = 0
    compounds = 0
    while True:
        at = _compound(text, at)
        compounds += 1
        if compounds > MAX_COMPOUNDS:
            raise SelectorError(f"must have at most {MAX_COMPOUNDS} compound selectors")
        if at == len(text):
            return text
        combinator = _COMBINATOR.match(text, at)
        if combinator is None:
            reason = (
                "selector lists (',') are not supported"
                if text[at] == ","
                else (
                    f"unsupported combinator or character {text[at]!r} (allowed: descendant ' ', child '>')"
                )
            )
            raise _fail(text, at, reason)
        at = combinator.end()
        if at == len(text):
            raise _fail(text, at, "a combinator must be followed by a selector")
