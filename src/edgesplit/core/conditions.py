"""The targeting condition language: a small, documented subset of MongoDB-style queries.

A condition is a JSON object whose entries must all hold::

    {"country": {"$in": ["US", "CA"]}, "device": "mobile", "query.ref": {"$exists": true}}

- ``"attr": value`` holds when the attribute equals the value (string, number, boolean, null).
- ``"attr": {"$op": argument, ...}`` holds when every operator holds. Operators:
  ``$eq $ne $in $nin $gt $gte $lt $lte $exists $regex $not``.
- ``$regex`` takes the linear-time subset of ``core.linear_regex`` (no backreferences or
  lookaround): matching never backtracks, whatever the visitor sends.
- ``$and``, ``$or``, ``$nor`` take arrays of conditions; ``$not`` takes one condition.
- Attribute names may be dotted (``query.utm_source``, ``cookie.plan``, ``header.x-tier``): a
  flat attribute of that exact name wins, otherwise the path is followed into nested objects.
- A missing attribute satisfies only ``$ne``, ``$nin``, ``$exists: false`` and negations.
- Ordering operators compare numbers with numbers (a numeric string attribute such as a query
  parameter is read as a number when the operand is one) and strings with strings; mixed
  types never match.

Conditions are compiled once, when the configuration is loaded, into plain closures.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from .linear_regex import UnsafePattern, compile_linear
from .validation import Reader, child_path

__all__ = ["Condition", "compile_condition", "MAX_CONDITION_DEPTH"]

Condition = Callable[[Mapping[str, Any]], bool]

MAX_CONDITION_DEPTH = 16
MAX_REGEX_LENGTH = 512
MAX_IN_ITEMS = 10_000
_MISSING = object()
_SCALARS = (str, int, float, bool, type(None))
_ORDERING = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_FIELD_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$not", *_ORDERING)
_LOGICAL = ("$and", "$or", "$nor", "$not")


def _lookup(attributes: Mapping[str, Any], name: str, parts: tuple[str, ...]) -> Any:
    value = attributes.get(name, _MISSING)
    if value is not _MISSING or len(parts) == 1:
        return value
    current: Any = attributes
    for part in parts:
        if not isinstance(current, Mapping):
            return _MISSING
        current = current.get(part, _MISSING)
        if current is _MISSING:
            return _MISSING
    return current


def _equal(actual: Any, expected: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, str):
        number = _as_number(actual)
        return number is not None and number == expected
    return bool(actual == expected)


def _as_number(text: str) -> float | None:
    try:
        return float(text) if len(text) <= 64 else None
    except ValueError:
        return None


def _ordered(compare: Callable[[Any, Any], bool], actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or actual is _MISSING:
        return False
    if isinstance(expected, (int, float)):
        if isinstance(actual, str):
            actual = _as_number(actual)
        if isinstance(actual, (int, float)):
            return compare(actual, expected)
        return False
    if isinstance(actual, str):
        return compare(actual, expected)
    return False


class _Compiler:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def condition(self, doc: Any, path: str, depth: int) -> Condition | None:
        if depth > MAX_CONDITION_DEPTH:
            self.reader.fail(path, f"nesting deeper than {MAX_CONDITION_DEPTH} levels")
            return None
        if not isinstance(doc, dict):
            self.reader.fail(path, "a condition must be an object")
            return None
        parts: list[Condition] = []
        ok = True
        for key, value in doc.items():
            here = child_path(path, key)
            compile_part = self.logical if key.startswith("$") else self.field
            part = compile_part(key, value, here, depth)
            if part is None:
                ok = False
            else:
                parts.append(part)
        if not ok:
            return None
        return _all_of(parts)

    def logical(self, key: str, value: Any, path: str, depth: int) -> Condition | None:
        if key == "$not":
            inner = self.condition(value, path, depth + 1)
            return None if inner is None else (lambda attrs: not inner(attrs))
        if key not in _LOGICAL:
            self.reader.fail(
                path,
                f"unknown operator; use one of {', '.join(_LOGICAL)} here, or an attribute name",
            )
            return None
        items = self.reader.expect_list(value, path, min_items=1, max_items=256)
        if items is None:
            return None
        compiled = [self.condition(item, child_path(path, i), depth + 1) for i, item in enumerate(items)]
        if any(part is None for part in compiled):
            return None
        parts = [part for part in compiled if part is not None]
        if key == "$and":
            return _all_of(parts)
        if key == "$or":
            return lambda attrs: any(part(attrs) for part in parts)
        return lambda attrs: not any(part(attrs) for part in parts)

    def field(self, name: str, spec: Any, path: str, depth: int) -> Condition | None:
        if not name or len(name) > 256:
            self.reader.fail(path, "attribute names must have 1 to 256 characters")
            return None
        parts = tuple(name.split("."))
        test = self.field_test(spec, path, depth)
        if test is None:
            return None
        return lambda attrs: test(_lookup(attrs, name, parts))

    def field_test(self, spec: Any, path: str, depth: int) -> Callable[[Any], bool] | None:
        if depth > MAX_CONDITION_DEPTH:
            self.reader.fail(path, f"nesting deeper than {MAX_CONDITION_DEPTH} levels")
            return None
        if isinstance(spec, dict) and spec and all(isinstance(k, str) and k.startswith("$") for k in spec):
            tests = [self.operator_test(op, arg, child_path(path, op), depth) for op, arg in spec.items()]
            if any(test is None for test in tests):
                return None
            checks = [test for test in tests if test is not None]
            return lambda actual: all(check(actual) for check in checks)
        if isinstance(spec, _SCALARS):
            return lambda actual: _equal(actual, spec)
        self.reader.fail(path, "must be a string, number, boolean, null or an object of operators")
        return None

    def scalar(self, value: Any, path: str) -> bool:
        if isinstance(value, _SCALARS):
            return True
        self.reader.fail(path, "must be a string, number, boolean or null")
        return False

    def operator_test(self, op: str, arg: Any, path: str, depth: int) -> Callable[[Any], bool] | None:
        if op == "$eq":
            return (lambda actual: _equal(actual, arg)) if self.scalar(arg, path) else None
        if op == "$ne":
            return (lambda actual: not _equal(actual, arg)) if self.scalar(arg, path) else None
        if op in ("$in", "$nin"):
            items = self.reader.expect_list(arg, path, max_items=MAX_IN_ITEMS)
            if items is None or not all(
                self.scalar(item, child_path(path, i)) for i, item in enumerate(items)
            ):
                return None
            if op == "$in":
                return lambda actual: any(_equal(actual, item) for item in items)
            return lambda actual: not any(_equal(actual, item) for item in items)
        if op in _ORDERING:
            if isinstance(arg, bool) or not isinstance(arg, (int, float, str)):
                self.reader.fail(path, "must be a number or a string")
                return None
            compare = _ORDERING[op]
            return lambda actual: _ordered(compare, actual, arg)
        if op == "$exists":
            wanted = self.reader.expect_bool(arg, path)
            if wanted is None:
                return None
            return lambda actual: (actual is not _MISSING and actual is not None) == wanted
        if op == "$regex":
            pattern = self.reader.expect_str(arg, path, max_length=MAX_REGEX_LENGTH)
            if pattern is None:
                return None
            try:
                regex = compile_linear(pattern)
            except UnsafePattern as exc:
                self.reader.fail(path, f"invalid regular expression (linear-time subset): {exc}")
                return None
            return lambda actual: isinstance(actual, str) and regex.search(actual)
        if op == "$not":
            inner = self.field_test(arg, path, depth + 1)
            return None if inner is None else (lambda actual: not inner(actual))
        self.reader.fail(path, f"unknown operator; use one of {', '.join(_FIELD_OPERATORS)}")
        return None


def _all_of(parts: list[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    return lambda attrs: all(part(attrs) for part in parts)


def compile_condition(doc: Any, path: str, reader: Reader) -> Condition | None:
    """Compile a condition document; problems go to ``reader`` and the result is ``None``."""
    return _Compiler(reader).condition(doc, path, 0)
