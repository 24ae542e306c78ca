"""A small reader for untrusted JSON documents that records problems with their exact path.

Every ``expect_*`` method returns the checked value, or ``None`` after recording a ``Problem``,
so a validator keeps going and reports every problem in one pass instead of the first only.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import Problem

__all__ = ["Reader", "child_path"]

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def child_path(path: str, key: str | int) -> str:
    """``child_path("experiments", 2) == "experiments[2]"``; odd keys are quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class Reader:
    """Collects problems while a validator walks a document."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def expect_object(
        self,
        value: Any,
        path: str,
        *,
        required: Iterable[str] = (),
        optional: Iterable[str] = (),
    ) -> Mapping[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(path, f"must be an object, not {_type_name(value)}")
            return None
        required = tuple(required)
        known = set(required) | set(optional)
        for key in value:
            if not isinstance(key, str) or key not in known:
                hint = difflib.get_close_matches(str(key), sorted(known), n=1)
                suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.fail(child_path(path, str(key)), f"unknown field{suggestion}")
        for key in required:
            if key not in value:
                self.fail(child_path(path, key), "is required")
        return value

    def expect_list(
        self, value: Any, path: str, *, min_items: int = 0, max_items: int = 10_000
    ) -> list[Any] | None:
        if not isinstance(value, list):
            self.fail(path, f"must be an array, not {_type_name(value)}")
            return None
        if len(value) < min_items:
            self.fail(path, f"must have at least {min_items} item{'s' if min_items != 1 else ''}")
            return None
        if len(value) > max_items:
            self.fail(path, f"must have at most {max_items} items, has {len(value)}")
            return None
        return value

    def expect_str(
        self,
        value: Any,
        path: str,
        *,
        min_length: int = 1,
        max_length: int = 256,
        pattern: re.Pattern[str] | None = None,
        pattern_help: str = "",
    ) -> str | None:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, not {_type_name(value)}")
            return None
        if len(value) < min_length:
            self.fail(
                path,
                "must not be empty" if min_length == 1 else f"must be at least {min_length} characters",
            )
            return None
        if len(value) > max_length:
            self.fail(path, f"must be at most {max_length} characters, has {len(value)}")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"must match {pattern_help or pattern.pattern}")
            return None
        return value

    def expect_number(
        self,
        value: Any,
        path: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> float | None:
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"must be {kind}, not {_type_name(value)}")
            return None
        if integer and not isinstance(value, int):
            self.fail(path, f"must be {kind}, not {value!r}")
            return None
        try:
            as_float = float(value)
        except OverflowError:
            self.fail(path, "must be a finite number")
            return None
        if not math.isfinite(as_float):
            self.fail(path, "must be a finite number")
            return None
        if minimum is not None and as_float < minimum:
            self.fail(path, f"must be >= {minimum:g}")
            return None
        if maximum is not None and as_float > maximum:
            self.fail(path, f"must be <= {maximum:g}")
            return None
        return value

    def expect_bool(self, value: Any, path: str) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {_type_name(value)}")
            return None
        return value

    def expect_choice(self, value: Any, path: str, choices: Iterable[str]) -> str | None:
        choices = tuple(choices)
        if not isinstance(value, str) or value not in choices:
            listed = ", ".join(repr(choice) for choice in choices)
            self.fail(path, f"must be one of {listed}, not {value!r}"[:300])
            return None
        return value
