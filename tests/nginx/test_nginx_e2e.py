"""The proxy's end-to-end scenarios against a real nginx with ``edgesplit decide`` behind
``auth_request``: the same assignments, no leakage, nothing forged trusted, Set-Cookie pages never
shared, variant pages private downstream."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest
from nginx_stack import NginxStack

from edgesplit import load_config
from edgesplit.core import assign, verify_token
from edgesplit.pipeline.manifests import RECENT_MANIFESTS
from servers import CONFIG, DECISION_HEADER, KEYRING

CONFIG_OBJ = load_config(CONFIG)
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def expected(visitor: str, path: str) -> dict[str, str]:
    return {
        k: a.variant for k, a in assign(CONFIG_OBJ, visitor, {"path": path}).items() if a.variant is not None
    }


def set_cookies(resp, name: str) -> list[str]:  # noqa: ANN001
    return [c for c in resp.headers.getall("Set-Cookie", []) if c.startswith(name + "=")]


async def test_new_visitor_gets_cookies_and_keeps_its_variants(nginx_stack: NginxStack) -> None:
    resp, body = await nginx_stack.get("/page/home", headers=BROWSER)
    assert resp.status == 200
    [identity] = set_cookies(resp, "edgesplit_id")
    assert "Max-Age=7776000" in identity and "HttpOnly" in identity
    visitor = identity.split(";")[0].split("=", 1)[1]
    assert body["verified"] and body["visitor_id"] == visitor
    assert body["assignments"] == expected(visitor, "/page/home")
    [decision] = set_cookies(resp, "edgesplit_decision")
    cookies = f"edgesplit_id={visitor}; {decision.split(';')[0]}"
    for _ in range(5):  # a returning browser sends both back: nothing to set again
        again, again_body = await nginx_stack.get("/page/home", headers={**BROWSER, "Cookie": cookies})
        assert again.headers.getall("Set-Cookie", []) == []
        assert again_body["assignments"] == body["assignments"]


async def test_two_new_visitors_never_share_an_id(nginx_stack: NginxStack) -> None:
    """New visitors send identical requests: their decisions must not be reused across them."""
    ids = set()
    for _ in range(20):
        resp, body = await nginx_stack.get("/echo", headers=BROWSER)
        [identity] = set_cookies(resp, "edgesplit_id")
        visitor = identity.split(";")[0].split("=", 1)[1]
        assert body["visitor_id"] == visitor
        ids.add(visitor)
    assert len(ids) == 20


async def test_bots_get_control_no_cookie_no_exposure(nginx_stack: NginxStack) -> None:
    for agent in (
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "",
    ):
        resp, body = await nginx_stack.get("/page/shop-bot", headers={"User-Agent": agent})
        assert "Set-Cookie" not in resp.headers
        assert body["verified"] and body["assignments"] == {"hero": "control", "shop": "a"}
    resp, body = await nginx_stack.get("/page/shop-bot", headers={**BROWSER, "Sec-Purpose": "prefetch"})
    assert "Set-Cookie" not in resp.headers and body["assignments"] == {"hero": "control", "shop": "a"}
    assert nginx_stack.outbox.events == []


async def test_a_bot_shares_the_control_page_with_humans_in_control(nginx_stack: NginxStack) -> None:
    """Bots never vary the cache: the bot's page is the control vector's, cached once."""
    human = next(
        f"visitor-{n:08d}"
        for n in range(100)
        if expected(f"visitor-{n:08d}", "/page/botshare")["hero"] == "control"
    )
    first, first_body = await nginx_stack.get("/page/botshare", human, headers=BROWSER)
    bot, bot_body = await nginx_stack.get("/page/botshare", headers={"User-Agent": "Googlebot/2.1"})
    assert bot.headers["X-Edgesplit-Cache"] == "HIT" and bot_body["fetch"] == first_body["fetch"] == 1
    assert nginx_stack.origin.fetches["/page/botshare"] == 1


async def test_exposures_for_real_visitors(nginx_stack: NginxStack) -> None:
    await nginx_stack.get("/page/shop-1", "visitor-abcdef12", headers=BROWSER)
    events = nginx_stack.outbox.events
    assert {(e["experiment"], e["visitor_id"]) for e in events} == {
        ("hero", "visitor-abcdef12"),
        ("shop", "visitor-abcdef12"),
    }
    assert all(e["type"] == "exposure" and e["config_version"] == "e2e-1" for e in events)


async def test_client_sent_decision_header_never_reaches_the_origin(nginx_stack: NginxStack) -> None:
    forged = "es1.test-key.eyJhIjp7Imhlcm8iOiJib2xkIn19.AAAA"
    _, body = await nginx_stack.get("/echo", "visitor-abcdef12", headers={DECISION_HEADER: forged, **BROWSER})
    assert body["decision_header"] != forged and body["verified"]
    _, body = await nginx_stack.get("/other-page", headers={DECISION_HEADER: forged})
    assert body["decision_header"] is None


async def test_spoofed_answer_headers_and_forwarding_headers_are_not_trusted(nginx_stack: NginxStack) -> None:
    """A client posing as nginx or as the decision service changes nothing."""
    spoof = {
        **BROWSER,
        "X-Edgesplit-Vector": "hero:bold",
        "X-Edgesplit-Token": "forged",
        "X-Edgesplit-Original-URI": "/other",
        "X-Edgesplit-Client-IP": "6.6.6.6",
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "Forwarded": "for=6.6.6.6;host=evil.example",
    }
    _, body = await nginx_stack.get("/echo", "visitor-abcdef12", headers=spoof)
    headers = {k.lower(): v for k, v in body["headers"].items()}
    assert body["verified"] and body["assignments"] == expected("visitor-abcdef12", "/echo")
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "127.0.0.1" and "forwarded" not in headers
    # The internal decision endpoint is not reachable from outside.
    resp, _ = await nginx_stack.get("/__edgesplit_decide", headers=BROWSER)
    assert resp.status == 404


async def test_forged_and_foreign_cookies_are_not_trusted(nginx_stack: NginxStack) -> None:
    """A decision cookie signed by no key, or issued to another visitor, does not move a visitor."""
    victim = "visitor-victim01"
    resp, _ = await nginx_stack.get("/page/home", victim, headers=BROWSER)
    [victim_decision] = set_cookies(resp, "edgesplit_decision")
    attacker = next(
        f"visitor-{n:08d}"
        for n in range(200)
        if expected(f"visitor-{n:08d}", "/echo")["hero"] != expected(victim, "/echo")["hero"]
    )
    for decision_cookie in (victim_decision.split(";")[0], "edgesplit_decision=es1.test-key.e30.AAAA"):
        cookies = (
            f"edgesplit_id={attacker}; {decision_cookie}; edgesplit_pin={decision_cookie.split('=', 1)[1]}"
        )
        _, body = await nginx_stack.get("/echo", headers={**BROWSER, "Cookie": cookies})
        assert body["visitor_id"] == attacker and body["assignments"] == expected(attacker, "/echo")
        sent = {k.lower(): v for k, v in body["headers"].items()}["cookie"]
        assert "edgesplit_decision" not in sent and "edgesplit_pin" not in sent and attacker in sent
    for junk in ("edgesplit_id=", "edgesplit_id=bad value!; ;;=;", "edgesplit_id=" + "a" * 5000):
        resp, body = await nginx_stack.get("/page/home", headers={**BROWSER, "Cookie": junk})
        assert resp.status == 200 and body["verified"] and set_cookies(resp, "edgesplit_id")


async def test_origin_header_verifies_and_carries_the_decision(nginx_stack: NginxStack) -> None:
    _, body = await nginx_stack.get("/echo", "visitor-abcdef12", headers=BROWSER)
    result = verify_token(body["decision_header"], KEYRING, time.time(), manifests=RECENT_MANIFESTS)
    assert result.ok and result.claims is not None
    assert result.claims.config_version == "e2e-1" and result.claims.visitor_id == "visitor-abcdef12"
    assert dict(result.claims.assignments) == expected("visitor-abcdef12", "/echo")


async def test_untargeted_requests_pass_through_without_decision_or_cookie(nginx_stack: NginxStack) -> None:
    resp, body = await nginx_stack.get("/other-page")
    assert "Set-Cookie" not in resp.headers and body["decision_header"] is None
    assert resp.headers["Cache-Control"] == "public, max-age=10, s-maxage=60"


async def test_one_origin_fetch_per_variant_for_a_cacheable_page(nginx_stack: NginxStack) -> None:
    by_variant: dict[str, list[str]] = {}
    for visitor in (f"visitor-{n:08d}" for n in range(200)):
        by_variant.setdefault(expected(visitor, "/page/landing")["hero"], []).append(visitor)
    for variant, group in by_variant.items():
        first, first_body = await nginx_stack.get("/page/landing", group[0], headers=BROWSER)
        assert first.headers["X-Edgesplit-Cache"] == "MISS"
        second, second_body = await nginx_stack.get("/page/landing", group[1], headers=BROWSER)
        assert second.headers["X-Edgesplit-Cache"] == "HIT"
        assert second_body == first_body and second_body["assignments"]["hero"] == variant
    assert nginx_stack.origin.fetches["/page/landing"] == len(by_variant) == 2


@pytest.mark.slow
async def test_thousands_of_visitors_never_see_another_variants_page(nginx_stack: NginxStack) -> None:
    rng = random.Random(42)
    paths = ["/page/home", "/page/shop-a", "/page/shop-b"]
    leaks: list[tuple[Any, ...]] = []
    semaphore = asyncio.Semaphore(32)

    async def visit(n: int) -> None:
        visitor = f"{rng.getrandbits(64):016x}"
        path = paths[n % len(paths)]
        async with semaphore:
            resp, body = await nginx_stack.get(path, visitor, headers=BROWSER)
        if resp.status != 200 or body["assignments"] != expected(visitor, path):
            leaks.append((visitor, path, resp.status, resp.headers.get("X-Edgesplit-Cache"), body))

    await asyncio.gather(*(visit(n) for n in range(3000)))
    assert leaks == []
    fetched = sum(nginx_stack.origin.fetches[p] for p in paths)
    assert 14 <= fetched <= 64  # one page per variant vector (a few more for simultaneous misses)


async def test_set_cookie_and_uncacheable_responses_are_never_shared(nginx_stack: NginxStack) -> None:
    for path in ("/nocache/x", "/private", "/cookie-page"):
        for n in range(4):
            resp, body = await nginx_stack.get(path, "visitor-abcdef12", headers=BROWSER)
            assert resp.headers["X-Edgesplit-Cache"] != "HIT" and body["fetch"] == n + 1
    other, body = await nginx_stack.get("/cookie-page", "visitor-99999999", headers=BROWSER)
    assert body["fetch"] == 5 and body["visitor_id"] == "visitor-99999999"
    assert any(c.startswith("origin_session=abc;") for c in other.headers.getall("Set-Cookie"))
    await nginx_stack.get("/error", "visitor-abcdef12")
    resp, _ = await nginx_stack.get("/error", "visitor-abcdef12")
    assert resp.status == 500 and nginx_stack.origin.fetches["/error"] == 2  # errors are not cached


async def test_requests_with_authorization_are_not_shared(nginx_stack: NginxStack) -> None:
    for n in range(3):
        _, body = await nginx_stack.get(
            "/page/authz", "visitor-abcdef12", headers={**BROWSER, "Authorization": "Bearer x"}
        )
        assert body["fetch"] == n + 1


async def test_variant_pages_are_private_downstream(nginx_stack: NginxStack) -> None:
    resp, _ = await nginx_stack.get("/page/home", "visitor-abcdef12", headers=BROWSER)
    assert resp.headers["Cache-Control"] == "private, max-age=10"
    cached, _ = await nginx_stack.get("/page/home", "visitor-abcdef12", headers=BROWSER)
    assert cached.headers["X-Edgesplit-Cache"] == "HIT"
    assert cached.headers.getall("Cache-Control") == ["private, max-age=10"]


async def test_request_bodies_and_methods_are_forwarded(nginx_stack: NginxStack) -> None:
    resp, body = await nginx_stack.get(
        "/echo",
        "visitor-abcdef12",
        method="POST",
        data=b"x" * 300_000,
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 200 and body["method"] == "POST" and len(body["body"]) == 300_000
    assert body["verified"]


async def test_admin_endpoints_are_served_by_the_decision_service(nginx_stack: NginxStack) -> None:
    resp, body = await nginx_stack.get("/__edgesplit/health")
    assert resp.status == 200 and body["config_version"] == "e2e-1"
    resp, body = await nginx_stack.get("/__edgesplit/client.js")
    assert resp.status == 200 and b"edgesplit" in body
    await nginx_stack.get("/page/home", "visitor-abcdef12", headers=BROWSER)
    resp, body = await nginx_stack.get("/__edgesplit/metrics")
    assert resp.status == 200 and b"edgesplit_decisions_total" in body
