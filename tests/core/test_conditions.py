"""The targeting condition language."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core.conditions import compile_condition
from edgesplit.core.validation import Reader


def compiled(doc: Any) -> Any:
    reader = Reader()
    condition = compile_condition(doc, "when", reader)
    assert reader.problems == [] and condition is not None
    return condition


ATTRS = {
    "country": "US",
    "device": "mobile",
    "visits": 3,
    "beta": True,
    "query": {"utm_source": "news", "age": "42"},
    "cookie": {"plan": "pro"},
    "header.x-tier": "gold",
}


@pytest.mark.parametrize(
    "doc,expected",
    [
        ({"country": "US"}, True),
        ({"country": "CA"}, False),
        ({"country": {"$in": ["CA", "US"]}}, True),
        ({"country": {"$nin": ["CA", "US"]}}, False),
        ({"country": {"$ne": "CA"}}, True),
        ({"missing": {"$ne": "CA"}}, True),
        ({"missing": "x"}, False),
        ({"missing": {"$exists": False}}, True),
        ({"country": {"$exists": True}}, True),
        ({"visits": {"$gte": 3, "$lt": 4}}, True),
        ({"visits": {"$gt": 3}}, False),
        ({"query.age": {"$gt": 40}}, True),  # numeric strings compare as numbers
        ({"query.utm_source": {"$gt": 40}}, False),  # non-numeric never matches a number
        ({"country": {"$gt": "AA"}}, True),  # strings compare as strings
        ({"visits": {"$gt": "1"}}, False),  # mixed types never match
        ({"beta": True}, True),
        ({"beta": 1}, False),  # booleans are not numbers
        ({"query.utm_source": {"$regex": "^ne"}}, True),
        ({"cookie.plan": "pro", "device": "mobile"}, True),
        ({"header.x-tier": "gold"}, True),  # a flat dotted attribute wins
        ({"$or": [{"country": "CA"}, {"device": "mobile"}]}, True),
        ({"$and": [{"country": "US"}, {"device": "desktop"}]}, False),
        ({"$nor": [{"country": "CA"}, {"device": "desktop"}]}, True),
        ({"$not": {"country": "US"}}, False),
        ({"country": {"$not": {"$in": ["CA"]}}}, True),
        ({"country.deeper": "x"}, False),
        ({}, True),
    ],
)
def test_semantics(doc: dict, expected: bool) -> None:
    assert compiled(doc)(ATTRS) is expected


@pytest.mark.parametrize(
    "doc,expected",
    [
        ([], "when: a condition must be an object"),
        (
            {"$xor": []},
            "when.$xor: unknown operator; use one of $and, $or, $nor, $not here, or an attribute name",
        ),
        ({"$or": []}, "when.$or: must have at least 1 item"),
        ({"a": {"$in": "US"}}, "when.a.$in: must be an array, not string"),
        ({"a": {"$in": [["nested"]]}}, "when.a.$in[0]: must be a string, number, boolean or null"),
        ({"a": {"$gt": True}}, "when.a.$gt: must be a number or a string"),
        ({"a": {"$exists": "yes"}}, "when.a.$exists: must be true or false, not string"),
        ({"a": [1]}, "when.a: must be a string, number, boolean, null or an object of operators"),
    ],
)
def test_errors(doc: Any, expected: str) -> None:
    reader = Reader()
    assert compile_condition(doc, "when", reader) is None
    assert [str(p) for p in reader.problems] == [expected]


SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
ANY = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["$and", "$or", "$not", "$in", "$gt", "$regex", "$exists", "a", "b.c", "$eq"])
            | st.text(max_size=3),
            inner,
            max_size=3,
        )
    ),
    max_leaves=15,
)


@given(
    doc=ANY,
    attributes=st.dictionaries(
        st.sampled_from(["a", "b", "b.c"]), SCALAR | st.dictionaries(st.just("c"), SCALAR)
    ),
)
def test_fuzzed_conditions_compile_or_report_and_never_raise_when_run(doc: Any, attributes: dict) -> None:
    reader = Reader()
    condition = compile_condition(doc, "when", reader)
    if condition is None:
        assert reader.problems
    else:
        assert condition(attributes) in (True, False)
