"""The request path's memos answer exactly as the work they spare: a remembered decision
cookie still expires, still dies with its key or config, and junk is never remembered; a
remembered User-Agent verdict follows the patterns in force."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import Config, DecisionClaims, HmacKey, Keyring, parse_config, sign_token
from edgesplit.core.settings import PolicySettings
from edgesplit.pipeline.cache_policy import (
    _cache_key,
    _private_cache_control,
    cache_key,
    client_cache_control,
)
from edgesplit.pipeline.manifests import manifests_for
from edgesplit.pipeline.memo import BoundedMemo, VerifiedTokens
from edgesplit.pipeline.policy import classify
from edgesplit.ports.http import Headers

KEY = HmacKey("memo-key", bytes(range(32)))
KEYRING = Keyring((KEY,))
CONFIG = parse_config(
    {
        "schema_version": 1,
        "version": "memo-1",
        "experiments": [{"key": "hero", "variants": [{"key": "a"}, {"key": "b"}]}],
    }
)


def token(now: float, ttl: int = 600, keyring: Keyring = KEYRING) -> str:
    claims = DecisionClaims("visitor-0001", {"hero": "b"}, "memo-1", int(now), int(now) + ttl)
    return sign_token(claims, keyring)


def claims(
    memo: VerifiedTokens, text: str, now: float, keyring: Keyring = KEYRING, config: Config = CONFIG
) -> DecisionClaims | None:
    return memo.claims(text, keyring, config, now, manifests_for(config))


def test_a_remembered_cookie_still_expires() -> None:
    now = time.time()
    memo, text = VerifiedTokens(), token(now, ttl=600)
    assert claims(memo, text, now).assignments == {"hero": "b"}
    assert claims(memo, text, now + 300) is not None  # the memo's answer
    assert claims(memo, text, now + 600 + 61) is None  # past expiry and the 60 s leeway
    assert claims(memo, text, now - 120) is None  # issued in the future for this clock


def test_a_remembered_cookie_dies_with_its_keyring_and_config() -> None:
    now = time.time()
    memo, text = VerifiedTokens(), token(now)
    assert claims(memo, text, now) is not None
    rotated = Keyring((HmacKey("other-key", bytes(range(1, 33))),))  # memo-key is gone
    assert claims(memo, text, now, keyring=rotated) is None
    retiring = Keyring(
        (HmacKey("new-key", bytes(range(2, 34))), HmacKey("memo-key", bytes(range(32)), now + 10))
    )
    assert claims(memo, text, now, keyring=retiring) is not None
    assert claims(memo, text, now + 11, keyring=retiring) is None  # the grace period is over
    reloaded = parse_config({**CONFIG.source, "version": "memo-2"})
    assert claims(memo, text, now, config=reloaded) is not None  # checked again, still valid


def test_a_forged_cookie_is_refused_every_time_and_never_remembered() -> None:
    now = time.time()
    memo, text = VerifiedTokens(max_entries=8), token(now)
    forged = text[:-2] + ("AA" if not text.endswith("AA") else "BB")
    for _ in range(3):
        assert claims(memo, forged, now) is None
    assert len(memo._memo) == 0  # noqa: SLF001


@given(st.lists(st.text(max_size=8), max_size=200))
def test_a_bounded_memo_never_holds_more_than_its_bound(keys: list[str]) -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(16)
    for index, key in enumerate(keys):
        memo.put(key, index)
        assert len(memo) <= 16 and memo.get(key) == index


def test_user_agent_verdicts_follow_the_patterns_in_force() -> None:
    headers = Headers([("user-agent", "Mozilla/5.0 ShopCrawler/2.1")])
    plain = PolicySettings(bot_patterns=("googlebot",))
    strict = PolicySettings(bot_patterns=("shopcrawler",))
    for _ in range(2):  # the second answer comes from the memo
        assert classify(plain, headers, {}, {}).bot is False
        assert classify(strict, headers, {}, {}).why == "user_agent"
        assert classify(plain, headers, {}, {}).bot is False


@given(
    st.sampled_from(
        ["http://shop.example/p", "http://shop.example/p?utm_source=x&id=1", "http://a.example/?b=2"]
    ),
    st.lists(st.tuples(st.sampled_from(["hero", "shop"]), st.sampled_from(["a", "b"])), max_size=2),
    st.sampled_from([(), ("utm_*",), ("id", "b")]),
)
def test_remembered_cache_keys_are_the_keys(
    url: str, vector: list[tuple[str, str]], ignore: tuple[str, ...]
) -> None:
    for _ in range(2):  # worked out, then remembered: the same answer, for these very arguments
        assert cache_key(url, vector, ignore) == _cache_key(url, vector, ignore)


@given(
    st.lists(
        st.sampled_from(["public", "max-age=60", "s-maxage=600", "no-store", "private", "x=1"]), max_size=4
    )
)
def test_remembered_client_cache_control_is_the_rewrite(directives: list[str]) -> None:
    for _ in range(2):
        headers = Headers([("cache-control", value) for value in directives])
        client_cache_control(headers, True)
        expected = _private_cache_control(", ".join(directives))
        assert headers.get_all("cache-control") == ([expected] if expected else directives)
