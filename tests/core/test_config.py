"""Configuration validation: every problem, with its exact path and reason."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import document, experiment

from edgesplit.core import ConfigError, parse_config, parse_config_text


def problems(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    return [str(problem) for problem in caught.value.problems]


def test_minimal_config_has_defaults() -> None:
    cfg = parse_config(document(experiment("hero")))
    hero = cfg.experiment("hero")
    assert hero is not None
    assert (hero.coverage, hero.status, hero.hash, hero.seed, hero.hash_attribute) == (
        1.0,
        "running",
        "edgesplit",
        "hero",
        "id",
    )
    assert [v.weight for v in hero.variants] == [0.5, 0.5]
    assert cfg.version == "test-1" and not cfg.overrides.enabled


def test_weights_are_normalised() -> None:
    cfg = parse_config(document(experiment(variants=[{"key": "a", "weight": 1}, {"key": "b", "weight": 3}])))
    assert [v.weight for v in cfg.experiments[0].variants] == [0.25, 0.75]


def test_issue_example_path() -> None:
    exps = [experiment(f"e{i}") for i in range(3)]
    exps[2]["variants"][1]["weight"] = -1
    assert problems(document(*exps)) == ["experiments[2].variants[1].weight: must be >= 0"]


@pytest.mark.parametrize(
    "mutation,expected",
    [
        (
            {"variants": [{"key": "a", "weight": 0}, {"key": "b", "weight": 0}]},
            "experiments[0].variants: weights must not all be 0",
        ),
        ({"variants": [{"key": "a"}]}, "experiments[0].variants: must have at least 2 items"),
        (
            {"variants": [{"key": "a"}, {"key": "a"}]},
            "experiments[0].variants[1].key: duplicates experiments[0].variants[0].key 'a'",
        ),
        ({"coverage": 1.5}, "experiments[0].coverage: must be <= 1"),
        ({"coverage": "all"}, "experiments[0].coverage: must be a number, not string"),
        (
            {"status": "live"},
            "experiments[0].status: must be one of 'running', 'paused', 'stopped', not 'live'",
        ),
        (
            {"hash": "md5"},
            "experiments[0].hash: must be one of 'edgesplit', 'growthbook-v1', 'growthbook-v2', not 'md5'",
        ),
        (
            {"key": "has space"},
            "experiments[0].key: must match 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
        (
            {"namespace": {"id": "ns", "range": [0.5, 0.2]}},
            "experiments[0].namespace.range: start must be below end",
        ),
        (
            {"namespace": {"id": "ns", "range": [0, 2]}},
            "experiments[0].namespace.range[1]: must be <= 1",
        ),
        (
            {"targeting": {"paths": ["products/*"]}},
            "experiments[0].targeting.paths[0]: must start with '/'",
        ),
        (
            {"targeting": {"when": {"country": {"$near": 1}}}},
            "experiments[0].targeting.when.country.$near: unknown operator; use one of $eq, $ne, $in, $nin, $exists, $regex, $not, $gt, $gte, $lt, $lte",
        ),
        (
            {"targeting": {"when": {"ua": {"$regex": "("}}}},
            "experiments[0].targeting.when.ua.$regex: invalid regular expression (linear-time subset): missing ')' at position 1",
        ),
        ({"covrage": 1}, "experiments[0].covrage: unknown field (did you mean 'coverage'?)"),
    ],
)
def test_experiment_problems(mutation: dict, expected: str) -> None:
    assert problems(document(experiment(**mutation))) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        {
            "schema_version": 2,
            "experiments": [experiment("a"), experiment("a", coverage=-1)],
            "extra": 1,
        }
    )
    assert found == [
        "extra: unknown field",
        "version: is required",
        "schema_version: must be 1 (this edgesplit reads schema version 1), not 2",
        "experiments[1].coverage: must be >= 0",
    ]


def test_duplicate_experiment_keys() -> None:
    assert problems(document(experiment("a"), experiment("a"))) == [
        "experiments[1].key: duplicates experiments[0].key 'a'"
    ]


def test_overlapping_namespace_ranges_are_refused() -> None:
    ns = lambda lo, hi: {"id": "home", "range": [lo, hi]}  # noqa: E731
    assert parse_config(
        document(experiment("a", namespace=ns(0, 0.5)), experiment("b", namespace=ns(0.5, 1)))
    )
    assert problems(
        document(experiment("a", namespace=ns(0, 0.5)), experiment("b", namespace=ns(0.4, 1)))
    ) == [
        "experiments[1].namespace.range: overlaps experiments[0] ('a') in namespace 'home': "
        "experiments sharing a namespace must not overlap"
    ]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("{", "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
        ('{"a": NaN}', "invalid JSON: NaN is not valid JSON"),
        ('{"a": 1, "a": 2}', "invalid JSON: duplicate key 'a'"),
        (
            b"\xff\xfe",
            "not UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested deeper than 64 levels"),
        (
            '{"v": "' + "[" * 100 + '\\"[", "w": 1}',
            "v: unknown field",
        ),  # brackets in strings do not nest
        ("[]", "must be an object, not array"),
    ],
)
def test_text_problems(text: str | bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text)
    assert expected in str(caught.value.problems[0]), caught.value.problems


def test_huge_documents_are_refused_without_parsing() -> None:
    with pytest.raises(ConfigError, match="larger than"):
        parse_config_text(" " * (5 * 1024 * 1024))


def test_deeply_nested_condition_is_refused() -> None:
    condition: dict = {"country": "US"}
    for _ in range(40):
        condition = {"$not": condition}
    found = problems(document(experiment(targeting={"when": condition})))
    assert len(found) == 1 and "nesting deeper than 16 levels" in found[0]


def test_too_many_experiments() -> None:
    found = problems(document(*[experiment(f"e{i}") for i in range(1001)]))
    assert found == ["experiments: must have at most 1000 items, has 1001"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
FIELDS = st.sampled_from(
    [
        "key",
        "variants",
        "coverage",
        "status",
        "hash",
        "seed",
        "hash_attribute",
        "namespace",
        "targeting",
        "weight",
        "paths",
        "when",
        "range",
        "id",
    ]
)
EXPERIMENTISH = st.dictionaries(FIELDS, JSON, max_size=8)


@given(
    st.dictionaries(st.sampled_from(["schema_version", "version", "experiments", "overrides"]), JSON)
    | st.fixed_dictionaries(
        {
            "schema_version": st.just(1),
            "version": st.text(max_size=4),
            "experiments": st.lists(EXPERIMENTISH, max_size=3),
        }
    )
)
def test_fuzzed_documents_either_load_or_raise_config_error(doc: dict) -> None:
    try:
        cfg = parse_config(doc)
    except ConfigError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
    else:
        assert len(cfg.experiments) == len(doc["experiments"])


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_fuzzed_text_either_loads_or_raises_config_error(text: str | bytes) -> None:
    with contextlib.suppress(ConfigError):  # anything else escaping fails the test
        parse_config_text(text)


def test_round_trip_through_json_text() -> None:
    doc = document(experiment("a", coverage=0.5, targeting={"paths": ["/x/**"], "when": {"country": "US"}}))
    assert parse_config_text(json.dumps(doc)) == parse_config(doc)
