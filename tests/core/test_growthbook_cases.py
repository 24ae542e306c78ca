"""GrowthBook's published SDK cases (spec 0.7.1), kept in tests/cases as data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, experiment, load_cases

from edgesplit.core import (
    assign,
    bucket_ranges,
    choose_variation,
    effective_weights,
    growthbook_hash,
)
from edgesplit.core.bucketing import choose_in_sorted_ranges
from edgesplit.core.hashing import make_namespace_hasher

CASES = load_cases("growthbook-0.7.1.json")


def _names(section: str) -> list[str]:
    return [str(case[0]) for case in CASES[section]]


@pytest.mark.parametrize("seed,value,version,expected", CASES["hash"])
def test_hash(seed: str, value: str, version: int, expected: float | None) -> None:
    if expected is None:  # unknown versions: GrowthBook answers null, we refuse loudly
        with pytest.raises(ValueError):
            growthbook_hash(seed, value, version)
    else:
        assert growthbook_hash(seed, value, version) == expected


@pytest.mark.parametrize("case", CASES["getBucketRange"], ids=_names("getBucketRange"))
def test_bucket_ranges(case: list) -> None:
    _name, (count, coverage, weights), expected = case
    valid = (
        weights is not None
        and len(weights) == count
        and 0.99 <= sum(weights) <= 1.01
        and all(w >= 0 for w in weights)
    )
    if weights is not None and not valid:
        pytest.skip("GrowthBook repairs invalid weights; edgesplit's config refuses them")
    used = effective_weights(weights if weights is not None else [1] * count, "growthbook-v2")
    ranges = bucket_ranges(used, coverage)
    assert len(ranges) == len(expected)
    for (start, end), (want_start, want_end) in zip(ranges, expected, strict=True):
        assert start == pytest.approx(want_start, abs=1e-9)
        assert end == pytest.approx(want_end, abs=1e-9)


@pytest.mark.parametrize("case", CASES["chooseVariation"], ids=_names("chooseVariation"))
def test_choose_variation(case: list) -> None:
    _name, n, ranges, expected = case
    assert choose_variation(n, [tuple(r) for r in ranges]) == expected


@pytest.mark.parametrize("case", CASES["inNamespace"], ids=_names("inNamespace"))
def test_in_namespace(case: list) -> None:
    _name, user_id, (namespace, start, end), expected = case
    position = make_namespace_hasher("growthbook-v1", namespace)(user_id)
    assert (start <= position < end) == expected


@pytest.mark.parametrize("count,expected", CASES["getEqualWeights"])
def test_equal_weights(count: int, expected: list[float]) -> None:
    if count < 1:
        pytest.skip("an experiment needs at least two variants")
    assert list(effective_weights([1] * count, "growthbook-v2")) == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("case", CASES["run"], ids=[case["name"] for case in CASES["run"]])
def test_run(case: dict) -> None:
    cfg = config(experiment(**case["experiment"]))
    attributes = case["attributes"]
    raw_id = attributes.get("id", "")
    visitor_id = str(raw_id) if isinstance(raw_id, (str, int)) else ""
    result = assign(cfg, visitor_id, attributes)[case["experiment"]["key"]]
    assert result.in_experiment == case["in_experiment"]
    assert result.index == case["index"]


@given(
    weights=st.lists(st.sampled_from([0, 0, 0.1, 0.25, 1, 3]), min_size=2, max_size=6).filter(
        lambda w: sum(w) > 0
    ),
    coverage=st.sampled_from([0, 0.3, 0.5, 1]) | st.floats(0, 1),
    n=st.floats(0, 1, exclude_max=True),
)
def test_fast_choice_equals_growthbook_choose_variation(
    weights: list[float], coverage: float, n: float
) -> None:
    ranges = bucket_ranges(effective_weights(weights, "growthbook-v2"), coverage)
    starts, ends = [r[0] for r in ranges], [r[1] for r in ranges]
    assert choose_in_sorted_ranges(n, starts, ends) == choose_variation(n, ranges)
    for edge in {*starts, *ends}:
        if 0 <= edge < 1:
            assert choose_in_sorted_ranges(edge, starts, ends) == choose_variation(edge, ranges)
