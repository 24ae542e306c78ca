"""The hash schemes: pinned values, range, determinism, uniformity and independence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, experiment, load_cases

from edgesplit.core import assign, fnv1a32, make_hasher, native_hash
from edgesplit.core.hashing import HASH_SCHEMES, make_namespace_hasher
from edgesplit.core.stats import chi_square_goodness_of_fit

CASES = load_cases("edgesplit-cases.json")
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=64)


@pytest.mark.parametrize("seed,value,expected", CASES["native_hash"])
def test_native_hash_pinned(seed: str, value: str, expected: float) -> None:
    assert native_hash(seed, value) == expected


@pytest.mark.parametrize("namespace,value,expected", CASES["native_namespace"])
def test_native_namespace_hash_pinned(namespace: str, value: str, expected: float) -> None:
    assert make_namespace_hasher("edgesplit", namespace)(value) == expected


def test_fnv1a32_known_values() -> None:
    # Reference values of 32-bit FNV-1a (offset basis for "", then "a" and "foobar").
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_fnv1a32_counts_utf16_code_units() -> None:
    # U+1F600 is two UTF-16 code units (a surrogate pair), like JS charCodeAt sees it.
    assert fnv1a32("\U0001f600") == fnv1a32("\ud83d\ude00")


@given(scheme=st.sampled_from(HASH_SCHEMES), seed=ANY_TEXT, value=ANY_TEXT)
def test_every_scheme_maps_into_unit_interval_deterministically(scheme: str, seed: str, value: str) -> None:
    hasher = make_hasher(scheme, seed)
    first = hasher(value)
    assert 0.0 <= first < 1.0
    assert hasher(value) == first == make_hasher(scheme, seed)(value)


@given(seed=ANY_TEXT.filter(bool), value=ANY_TEXT)
def test_native_seed_boundary_is_unambiguous(seed: str, value: str) -> None:
    # The same concatenated text split differently between seed and id must hash apart.
    assert native_hash(seed[:-1], seed[-1] + value) != native_hash(seed, value)


@pytest.mark.parametrize("scheme", HASH_SCHEMES)
@pytest.mark.parametrize("weights", [[50, 50], [10, 30, 60], [1, 1, 1, 1, 1]])
def test_split_matches_weights_on_100k_ids(scheme: str, weights: list[int]) -> None:
    total = sum(weights)
    if scheme != "edgesplit":
        weights = [w / total for w in weights]
    cfg = config(
        experiment(
            "split",
            hash=scheme,
            variants=[{"key": f"v{i}", "weight": w} for i, w in enumerate(weights)],
        )
    )
    counts = [0] * len(weights)
    for n in range(100_000):
        counts[assign(cfg, f"user-{n}")["split"].index] += 1
    _, p_value = chi_square_goodness_of_fit(counts, weights)
    assert p_value > 1e-4, counts


@pytest.mark.parametrize("scheme", HASH_SCHEMES)
def test_two_experiments_are_independent(scheme: str) -> None:
    three = [{"key": "a"}, {"key": "b"}, {"key": "c"}]
    cfg = config(
        experiment("first", hash=scheme, variants=three),
        experiment("second", hash=scheme, variants=three),
    )
    table = [[0] * 3 for _ in range(3)]
    for n in range(100_000):
        result = assign(cfg, f"user-{n}")
        table[result["first"].index][result["second"].index] += 1
    # Independence: every cell near 1/9 of the total (chi-square with 8 df).
    cells = [cell for row in table for cell in row]
    _, p_value = chi_square_goodness_of_fit(cells, [1] * 9)
    assert p_value > 1e-4, table


def test_same_seed_correlates_and_different_seeds_do_not() -> None:
    # The salt is what separates experiments: with an equal seed, assignments coincide.
    cfg = config(experiment("one", seed="shared"), experiment("two", seed="shared"))
    assert all(r["one"].index == r["two"].index for r in (assign(cfg, f"u{n}") for n in range(1000)))
