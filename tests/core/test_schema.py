"""The published JSON Schema agrees with the validator: never stricter, and catches the same shapes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import document, experiment

from edgesplit.core import ConfigError, parse_config
from edgesplit.schema import schema_text

jsonschema = pytest.importorskip("jsonschema")
VALIDATOR = jsonschema.Draft202012Validator(json.loads(schema_text()))

VALID = [
    document(experiment("a")),
    document(
        experiment(
            "a",
            coverage=0.3,
            status="paused",
            hash="growthbook-v2",
            seed="s",
            hash_attribute="user_id",
            namespace={"id": "n", "range": [0, 0.5]},
            targeting={
                "paths": ["/x/**"],
                "exclude_paths": ["/x/y"],
                "when": {
                    "$or": [{"country": {"$in": ["US"]}}, {"query.a": {"$not": {"$regex": "b"}}}],
                    "visits": {"$gte": 2},
                    "beta": True,
                },
            },
        ),
        overrides={"enabled": True, "query_param": "qa"},
    ),
]
INVALID = [
    {"version": "1", "experiments": []},
    document(experiment("a", variants=[{"key": "a", "weight": -1}, {"key": "b"}])),
    document(experiment("a", coverage=2)),
    document(experiment("a", colour="red")),
    document(experiment("bad key")),
    document(experiment("a", targeting={"when": {"a": {"$near": 1}}})),
    document(experiment("a", targeting={"paths": ["relative"]})),
]


@pytest.mark.parametrize("doc", VALID)
def test_valid_documents_pass_both(doc: dict) -> None:
    parse_config(doc)
    assert list(VALIDATOR.iter_errors(doc)) == []


@pytest.mark.parametrize("doc", INVALID)
def test_invalid_documents_fail_both(doc: dict) -> None:
    with pytest.raises(ConfigError):
        parse_config(doc)
    assert list(VALIDATOR.iter_errors(doc)) != []


VARIANT = st.fixed_dictionaries(
    {"key": st.sampled_from(["a", "b", "c", "d"])},
    optional={"weight": st.integers(0, 5) | st.floats(0, 5)},
)
EXPERIMENT = st.fixed_dictionaries(
    {
        "key": st.sampled_from(["e1", "e2", "e3"]),
        "variants": st.lists(VARIANT, min_size=2, max_size=4),
    },
    optional={
        "coverage": st.floats(0, 1),
        "status": st.sampled_from(["running", "paused", "stopped"]),
        "hash": st.sampled_from(["edgesplit", "growthbook-v1", "growthbook-v2"]),
        "seed": st.text(min_size=1, max_size=5),
    },
)


@given(st.lists(EXPERIMENT, max_size=3))
def test_schema_is_never_stricter_than_the_validator(experiments: list) -> None:
    doc = document(*experiments)
    try:
        parse_config(doc)
    except ConfigError:
        return
    assert list(VALIDATOR.iter_errors(doc)) == []
