"""The per-visitor assignment memo answers exactly as ``assign``: per visitor, per path, per config
object, with pins and a bandit's sticky variants, and not at all for configs whose assignments
read more of the request than its path."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core import Config, assign, parse_config
from edgesplit.pipeline.assign_memo import AssignMemo, memoisable


def config(*experiments: dict[str, Any], **extra: Any) -> Config:
    return parse_config({"schema_version": 1, "version": "memo-1", "experiments": list(experiments), **extra})


def experiment(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "variants": [{"key": "a"}, {"key": "b"}, {"key": "c"}], **extra}


CONFIG = config(
    experiment("hero"),
    experiment("shop", targeting={"paths": ["/shop/**"]}),
    experiment("half", coverage=0.5, hash="growthbook-v2"),
)


@settings(max_examples=200)
@given(
    visitors=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6),
    paths=st.lists(st.sampled_from(["/", "/shop/1", "/shop/2", "/about"]), min_size=1, max_size=4),
)
def test_remembered_assignments_are_assign_for_every_visitor_and_path(
    visitors: list[str], paths: list[str]
) -> None:
    memo = AssignMemo()
    for _ in range(2):  # the second round answers from the memo
        for visitor in visitors:
            for path in paths:
                expected = assign(CONFIG, visitor, {"path": path})
                assert memo.assign(CONFIG, visitor, {"path": path}, None, None) == expected


def first_visitor_where(cfg_a: Config, cfg_b: Config) -> str:
    """A visitor the two configs assign differently."""
    for number in range(1000):
        visitor = f"visitor-{number}"
        if assign(cfg_a, visitor, {"path": "/"}) != assign(cfg_b, visitor, {"path": "/"}):
            return visitor
    raise AssertionError("the configs never differ")


def test_a_new_config_is_assigned_afresh_even_for_a_remembered_visitor() -> None:
    before = config(experiment("hero"))
    after = config(experiment("hero", seed="reseeded"))
    visitor = first_visitor_where(before, after)
    memo = AssignMemo()
    assert memo.assign(before, visitor, {"path": "/"}, None, None) == assign(before, visitor, {"path": "/"})
    assert memo.assign(after, visitor, {"path": "/"}, None, None) == assign(after, visitor, {"path": "/"})
    paused = config(experiment("hero", status="paused"))
    assert memo.assign(paused, visitor, {"path": "/"}, None, None)["hero"].reason == "paused"


def test_an_equal_config_reloaded_is_a_new_object_and_not_trusted_blindly() -> None:
    memo = AssignMemo()
    first = memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, None)
    reloaded = config(
        experiment("hero"),
        experiment("shop", targeting={"paths": ["/shop/**"]}),
        experiment("half", coverage=0.5, hash="growthbook-v2"),
    )
    assert memo.assign(reloaded, "visitor-1", {"path": "/"}, None, None) == first


def test_pins_are_part_of_the_memo_key() -> None:
    memo = AssignMemo()
    free = memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, None)
    other = "b" if free["hero"].variant != "b" else "c"
    pinned = memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, {"hero": other})
    assert pinned["hero"].variant == other
    assert pinned == assign(CONFIG, "visitor-1", {"path": "/"}, None, {"hero": other})
    assert memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, None) == free


def test_a_bandits_sticky_variant_is_part_of_the_memo_key() -> None:
    cfg = config(experiment("arm", bandit={}))
    memo = AssignMemo()
    free = memo.assign(cfg, "visitor-1", {"path": "/"}, None, None)
    other = "b" if free["arm"].variant != "b" else "c"
    kept = memo.assign(cfg, "visitor-1", {"path": "/"}, {"arm": other}, None)
    assert kept == assign(cfg, "visitor-1", {"path": "/"}, {"arm": other}) and kept["arm"].variant == other


def test_the_caller_cannot_change_what_is_remembered() -> None:
    memo = AssignMemo()
    first = memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, None)
    first.clear()
    assert memo.assign(CONFIG, "visitor-1", {"path": "/"}, None, None) == assign(
        CONFIG, "visitor-1", {"path": "/"}
    )


def test_configs_that_read_more_than_the_path_are_never_memoised() -> None:
    by_country = config(experiment("us", targeting={"when": {"country": "US"}}))
    by_account = config(experiment("acct", hash_attribute="account"))
    forced = config(experiment("hero"), overrides={"enabled": True})
    assert memoisable(CONFIG)
    assert not memoisable(by_country) and not memoisable(by_account) and not memoisable(forced)
    memo = AssignMemo()
    assert memo.assign(by_country, "v", {"path": "/", "country": "US"}, None, None)["us"].variant is not None
    assert memo.assign(by_country, "v", {"path": "/", "country": "FR"}, None, None)["us"].variant is None
    one = memo.assign(by_account, "v", {"path": "/", "account": "acct-1"}, None, None)
    assert one == assign(by_account, "v", {"path": "/", "account": "acct-1"})
    assert memo.assign(by_account, "v", {"path": "/"}, None, None)["acct"].reason == "no_hash_attribute"
    query = {"path": "/", "query": {"edgesplit_force": "hero:c"}}
    assert memo.assign(forced, "v", {"path": "/"}, None, None) == assign(forced, "v", {"path": "/"})
    assert memo.assign(forced, "v", query, None, None)["hero"].variant == "c"
