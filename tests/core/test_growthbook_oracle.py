"""The GrowthBook schemes against the ``growthbook`` package itself, on many random ids.

CPython only: the package is the oracle, not something the edge imports.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, experiment

from edgesplit.core import assign

growthbook = pytest.importorskip("growthbook")


def _oracle(visitor_id: str, spec: dict) -> tuple[bool, int]:
    gb_experiment = growthbook.Experiment(
        key=spec["key"],
        variations=list(range(len(spec["variants"]))),
        weights=[v["weight"] for v in spec["variants"]],
        coverage=spec.get("coverage", 1),
        hashVersion=int(spec["hash"][-1]),
        seed=spec.get("seed"),
        namespace=(spec["namespace"]["id"], *spec["namespace"]["range"]) if "namespace" in spec else None,
    )
    result = growthbook.GrowthBook(attributes={"id": visitor_id}).run(gb_experiment)
    return result.inExperiment, result.variationId


def _random_spec(rng: random.Random, scheme: str) -> dict:
    count = rng.randint(2, 5)
    raw = [rng.random() + 0.01 for _ in range(count)]
    weights = [w / sum(raw) for w in raw]
    spec = {
        "key": f"exp-{rng.randrange(10**6)}",
        "hash": scheme,
        "variants": [{"key": f"v{i}", "weight": w} for i, w in enumerate(weights)],
        "coverage": rng.choice([1, 1, rng.random()]),
    }
    if rng.random() < 0.5:
        spec["seed"] = f"seed-{rng.randrange(1000)}"
    if rng.random() < 0.4:
        start = rng.random() * 0.7
        spec["namespace"] = {"id": f"ns{rng.randrange(3)}", "range": [start, start + 0.3]}
    return spec


def _random_id(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return f"{rng.getrandbits(128):032x}"
    if kind < 0.7:  # any BMP or astral code point, surrogates excluded
        return "".join(
            chr(rng.choice([rng.randint(0x20, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
            for _ in range(rng.randint(1, 24))
        )
    return str(rng.randint(0, 10**12))


@pytest.mark.parametrize("scheme", ["growthbook-v1", "growthbook-v2"])
def test_assignments_equal_growthbook_on_20k_random_ids(scheme: str) -> None:
    rng = random.Random(20261123)
    mismatches = []
    for _ in range(40):
        spec = _random_spec(rng, scheme)
        cfg = config(experiment(**spec))
        for _ in range(500):
            visitor_id = _random_id(rng)
            ours = assign(cfg, visitor_id)[spec["key"]]
            want_in, want_index = _oracle(visitor_id, spec)
            if (ours.in_experiment, ours.index) != (want_in, want_index):
                mismatches.append((spec, visitor_id, ours, want_in, want_index))
    assert mismatches == []


@given(
    visitor_id=st.text(st.characters(exclude_categories=()), min_size=1, max_size=40),
    scheme=st.sampled_from(["growthbook-v1", "growthbook-v2"]),
    coverage=st.floats(0, 1),
)
def test_any_unicode_id_matches_growthbook(visitor_id: str, scheme: str, coverage: float) -> None:
    spec = {
        "key": "prop",
        "hash": scheme,
        "coverage": coverage,
        "variants": [
            {"key": "a", "weight": 0.2},
            {"key": "b", "weight": 0.3},
            {"key": "c", "weight": 0.5},
        ],
    }
    ours = assign(config(experiment(**spec)), visitor_id)["prop"]
    assert (ours.in_experiment, ours.index) == _oracle(visitor_id, spec)
