"""assign(): targeting, statuses, forced variants, namespaces, hash attributes, coverage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, experiment

from edgesplit.core import assign, parse_forced_variants


def test_stable_for_the_same_visitor() -> None:
    cfg = config(experiment("a"), experiment("b", variants=[{"key": "x"}, {"key": "y"}, {"key": "z"}]))
    first = assign(cfg, "visitor-42")
    assert all(assign(cfg, "visitor-42") == first for _ in range(10))
    assert {r.reason for r in first.values()} == {"bucketed"}


def test_not_targeted_has_no_variant() -> None:
    cfg = config(experiment("shop", targeting={"paths": ["/shop/**"], "when": {"country": "US"}}))
    assert assign(cfg, "v", {"path": "/blog", "country": "US"})["shop"].variant is None
    miss = assign(cfg, "v", {"path": "/shop/x", "country": "FR"})["shop"]
    assert (miss.variant, miss.index, miss.in_experiment, miss.reason) == (
        None,
        None,
        False,
        "not_targeted",
    )
    assert assign(cfg, "v", {"path": "/shop/x", "country": "US"})["shop"].in_experiment


@pytest.mark.parametrize("status", ["paused", "stopped"])
def test_paused_and_stopped_serve_control_out_of_experiment(status: str) -> None:
    cfg = config(experiment("a", status=status))
    for n in range(200):
        result = assign(cfg, f"v{n}")["a"]
        assert (result.variant, result.index, result.in_experiment, result.reason) == (
            "control",
            0,
            False,
            status,
        )


def test_zero_coverage_keeps_everyone_out() -> None:
    cfg = config(experiment("a", coverage=0))
    assert {assign(cfg, f"v{n}")["a"].reason for n in range(200)} == {"coverage"}


def test_raising_coverage_never_moves_a_visitor_between_variants() -> None:
    low, high = config(experiment("a", coverage=0.3)), config(experiment("a", coverage=0.8))
    for n in range(2000):
        before, after = assign(low, f"v{n}")["a"], assign(high, f"v{n}")["a"]
        if before.in_experiment:
            assert after.in_experiment and after.index == before.index


def test_zero_weight_variant_gets_nobody() -> None:
    cfg = config(
        experiment(
            "a",
            variants=[
                {"key": "c", "weight": 1},
                {"key": "off", "weight": 0},
                {"key": "t", "weight": 1},
            ],
        )
    )
    assert "off" not in {assign(cfg, f"v{n}")["a"].variant for n in range(2000)}


@pytest.mark.parametrize("scheme", ["edgesplit", "growthbook-v1", "growthbook-v2"])
def test_namespaces_make_experiments_mutually_exclusive(scheme: str) -> None:
    cfg = config(
        experiment("left", hash=scheme, namespace={"id": "home", "range": [0, 0.5]}),
        experiment("right", hash=scheme, namespace={"id": "home", "range": [0.5, 1]}),
    )
    both = neither = 0
    for n in range(5000):
        result = assign(cfg, f"user-{n}")
        inside = (result["left"].in_experiment, result["right"].in_experiment)
        both += inside == (True, True)
        neither += inside == (False, False)
        for r in result.values():
            if not r.in_experiment:
                assert r.reason == "namespace" and r.variant == "control"
    assert both == 0 and neither == 0


def test_custom_hash_attribute() -> None:
    cfg = config(experiment("a", hash_attribute="user_id"))
    assert assign(cfg, "anonymous")["a"].reason == "no_hash_attribute"
    by_user = assign(cfg, "device-1", {"user_id": "u-7"})["a"]
    assert by_user.in_experiment
    # The same user on another device gets the same variant.
    assert assign(cfg, "device-2", {"user_id": "u-7"})["a"].index == by_user.index
    assert assign(cfg, "device-2", {"user_id": 7})["a"] == assign(cfg, "device-3", {"user_id": "7"})["a"]


def test_forced_variants_only_when_enabled() -> None:
    exp = experiment("a", variants=[{"key": "c"}, {"key": "t"}])
    attrs = {"query": {"edgesplit_force": "a:t"}}
    off = config(exp)
    assert assign(off, "v", attrs)["a"].reason == "bucketed"
    on = config(exp, overrides={"enabled": True})
    forced = assign(on, "v", attrs)["a"]
    assert (forced.variant, forced.index, forced.in_experiment, forced.reason) == (
        "t",
        1,
        False,
        "forced",
    )
    by_cookie = assign(on, "v", {"cookie": {"edgesplit_force": "a:c"}})["a"]
    assert (by_cookie.variant, by_cookie.reason) == ("c", "forced")
    # Unknown variants are ignored; the visitor is bucketed as usual.
    assert assign(on, "v", {"query": {"edgesplit_force": "a:nope"}})["a"].reason == "bucketed"


def test_forced_variant_overrides_a_pause() -> None:
    cfg = config(experiment("a", status="paused"), overrides={"enabled": True, "query_param": "qa"})
    assert assign(cfg, "v", {"query": {"qa": "a:treatment"}})["a"].variant == "treatment"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("a:x,b:y", {"a": "x", "b": "y"}),
        (" a:x , junk,:y,z:", {"a": "x"}),
        (None, {}),
        ("a:" * 5000, {}),
    ],
)
def test_parse_forced_variants(text: object, expected: dict) -> None:
    assert parse_forced_variants(text) == expected


@given(
    visitor_id=st.text(st.characters(exclude_categories=()), max_size=5000),
    path=st.text(max_size=50),
    country=st.text(max_size=5),
)
def test_hostile_ids_and_attributes_never_raise(visitor_id: str, path: str, country: str) -> None:
    cfg = config(
        experiment("a", targeting={"paths": ["/x/**"], "when": {"country": {"$regex": "^U"}}}),
        experiment("b", hash="growthbook-v2"),
    )
    result = assign(cfg, visitor_id, {"path": path, "country": country})
    assert set(result) == {"a", "b"}
    if visitor_id:
        assert result["b"].in_experiment
    else:
        assert result["b"].reason == "no_hash_attribute"


def test_bandit_visitors_keep_their_variant_when_weights_move() -> None:
    variants = [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}]
    before = config(experiment("arm", variants=variants, bandit={"min_weight": 0.01, "max_weight": 0.99}))
    moved = config(
        experiment(
            "arm",
            variants=[{"key": "a", "weight": 0.01}, {"key": "b", "weight": 0.99}],
            bandit={"min_weight": 0.01, "max_weight": 0.99},
        )
    )
    visitors = [f"v{n}" for n in range(400)]
    first = {v: assign(before, v)["arm"].variant for v in visitors}
    assert "a" in first.values()
    for visitor in visitors:
        kept = assign(moved, visitor, sticky={"arm": first[visitor]})["arm"]
        assert kept.variant == first[visitor] and kept.in_experiment and kept.reason == "sticky"
    # Without the cookie, the new weights apply; stickiness ignores unknown variants.
    fresh = [assign(moved, v)["arm"].variant for v in visitors]
    assert fresh.count("b") > 350
    assert assign(moved, "v1", sticky={"arm": "gone"})["arm"].reason == "bucketed"
    # Non-bandit experiments are never sticky: they are deterministic by hash anyway.
    plain = config(experiment("plain"))
    assert assign(plain, "v1", sticky={"plain": "treatment"})["plain"].reason == "bucketed"
