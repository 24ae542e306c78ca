"""Path patterns for targeting: a small glob language compiled once to a regular expression.

- ``*`` matches within one path segment (no ``/``), ``?`` one character of a segment;
- ``**`` matches across segments, and a trailing ``/**`` also matches the folder itself:
  ``/products/**`` matches ``/products``, ``/products/`` and ``/products/a/b``;
- everything else matches literally. Patterns must start with ``/``; the query string is
  never part of the path.

Matching is linear in the path's length (``linear_regex``): ``/**/**/**/z`` cannot be made to
backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .linear_regex import compile_linear

__all__ = ["PathPatternError", "compile_path_patterns", "glob_to_regex"]

PathMatcher = Callable[[str], bool]
_MEMO_ENTRIES = 4096
_MEMO_PATH_LENGTH = 256


class PathPatternError(ValueError):
    pass


def glob_to_regex(pattern: str) -> str:
    """``glob_to_regex("/p/*/x") == "/p/[^/]*/x"`` (anchored by the caller)."""
    if not pattern.startswith("/"):
        raise PathPatternError("must start with '/'")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            break
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def compile_path_patterns(include: Sequence[str], exclude: Sequence[str] = ()) -> PathMatcher | None:
    """One matcher for the include and exclude lists; ``None`` when every path matches."""
    if not include and not exclude:
        return None
    included = compile_linear("|".join(f"(?:{glob_to_regex(p)})" for p in include)) if include else None
    excluded = compile_linear("|".join(f"(?:{glob_to_regex(p)})" for p in exclude)) if exclude else None

    def compute(path: str) -> bool:
        if included is not None and not included.fullmatch(path):
            return False
        return excluded is None or not excluded.fullmatch(path)

    memo: dict[str, bool] = {}  # hot pages repeat: short paths' answers are kept (bounded)

    def matches(path: str) -> bool:
        found = memo.get(path)
        if found is None:
            found = compute(path)
            if len(path) <= _MEMO_PATH_LENGTH:
                if len(memo) >= _MEMO_ENTRIES:
                    memo.clear()
                memo[path] = found
        return found

    return matches
