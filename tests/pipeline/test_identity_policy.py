from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core.settings import ConsentSettings, IdentitySettings, PolicySettings
from edgesplit.pipeline.attributes import RequestAttributes, device_class
from edgesplit.pipeline.identity import VISITOR_ID_PATTERN, resolve_identity
from edgesplit.pipeline.policy import classify
from edgesplit.ports.http import Headers

counter = itertools.count()


def fresh() -> str:
    return f"fresh-id-{next(counter):06d}"


def test_valid_cookie_is_kept() -> None:
    identity = resolve_identity(IdentitySettings(), {"edgesplit_id": "abcdefgh1234"}, Headers(), fresh)
    assert (identity.visitor_id, identity.set_cookie) == ("abcdefgh1234", None)


@given(st.text(max_size=100).filter(lambda v: not VISITOR_ID_PATTERN.fullmatch(v)))
def test_malformed_cookie_is_a_new_visitor(value: str) -> None:
    identity = resolve_identity(IdentitySettings(), {"edgesplit_id": value}, Headers(), fresh)
    assert identity.visitor_id.startswith("fresh-id-") and identity.set_cookie is not None
    assert identity.set_cookie.startswith(f"edgesplit_id={identity.visitor_id};")


def test_cookie_attributes_follow_settings() -> None:
    settings = IdentitySettings(
        cookie="vid", max_age_days=30, domain=".shop.example", secure=True, same_site="Strict"
    )
    cookie = resolve_identity(settings, {}, Headers(), fresh).set_cookie
    assert cookie is not None and cookie.endswith(
        "; Max-Age=2592000; Path=/; Domain=.shop.example; Secure; HttpOnly; SameSite=Strict"
    )


def test_trusted_header_wins_over_cookie() -> None:
    settings = IdentitySettings(id_header="x-user-id")
    identity = resolve_identity(
        settings, {"edgesplit_id": "abcdefgh1234"}, Headers([("X-User-Id", "user-42")]), fresh
    )
    assert identity.visitor_id == "user-42" and identity.set_cookie is None
    junk = resolve_identity(
        settings, {"edgesplit_id": "abcdefgh1234"}, Headers([("X-User-Id", "a b\x00")]), fresh
    )
    assert junk.visitor_id == "abcdefgh1234"


def test_without_consent_nothing_persists() -> None:
    identity = resolve_identity(
        IdentitySettings(), {"edgesplit_id": "abcdefgh1234"}, Headers(), fresh, persist=False
    )
    assert identity.visitor_id.startswith("fresh-id-") and identity.set_cookie is None


def test_policy_signals() -> None:
    policy = PolicySettings()
    browser = Headers([("User-Agent", "Mozilla/5.0 Firefox/130.0")])
    assert not classify(policy, browser, {}, {}).bot
    assert classify(policy, Headers([("User-Agent", "Googlebot/2.1")]), {}, {}).why == "user_agent"
    assert classify(policy, Headers([("User-Agent", "")]), {}, {}).bot
    assert classify(policy, browser, {}, {"verified_bot": True}).why == "verified_bot"
    assert classify(policy, browser, {}, {"bot_score": 5}).why == "bot_score"
    assert not classify(policy, browser, {}, {"bot_score": 90}).bot
    prefetch = Headers([("User-Agent", "Mozilla/5.0"), ("Sec-Purpose", "prefetch;prerender")])
    assert classify(policy, prefetch, {}, {}).why == "prefetch"
    relaxed = PolicySettings(bot_patterns=(), prefetch_is_bot=False, bot_score_below=None)
    assert not classify(relaxed, prefetch, {}, {"bot_score": 1}).bot


def test_consent_mode() -> None:
    policy = PolicySettings(consent=ConsentSettings(required=True))
    browser = Headers([("User-Agent", "Mozilla/5.0")])
    assert not classify(policy, browser, {}, {}).consent
    assert classify(policy, browser, {"edgesplit_consent": "Yes"}, {}).consent
    assert not classify(policy, browser, {"edgesplit_consent": "no"}, {}).consent


def test_device_classes() -> None:
    assert device_class("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148") == "mobile"
    assert device_class("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)") == "tablet"
    assert device_class("Mozilla/5.0 (Linux; Android 14; SM-X700) AppleWebKit Safari") == "tablet"
    assert device_class("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari") == "mobile"
    assert device_class("Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0") == "desktop"


def test_request_attributes_are_lazy_and_complete() -> None:
    headers = Headers(
        [
            ("Host", "Shop.Example:8443"),
            ("User-Agent", "iPhone Mobile"),
            ("CF-IPCountry", "de"),
            ("X-Tier", "gold"),
        ]
    )
    attrs = RequestAttributes(
        "GET", "https://shop.example/p/x?ref=news&ref=other&e=", headers, {"plan": "pro"}, {}
    )
    assert attrs["path"] == "/p/x" and attrs["host"] == "shop.example" and attrs["country"] == "DE"
    assert attrs["device"] == "mobile" and attrs["query"] == {"ref": "news", "e": ""}
    assert attrs["cookie"] == {"plan": "pro"} and attrs["header"]["x-tier"] == "gold"
    assert attrs.get("unknown") is None
    assert RequestAttributes("GET", "http://h/", Headers(), {}, {}).get("country") is None
    assert RequestAttributes("GET", "http://h/", Headers(), {}, {"country": "fr"})["country"] == "FR"
