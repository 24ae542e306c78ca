"""Issue 19 through the self-hosted proxy: with 1, 20, 100 and 500 experiments applying to a
page, the decision cookie and header stay under 4 KB, the origin verifies every assignment,
the cookie comes back and is accepted, and yesterday's es1 cookies still verify."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from local_stack import Stack, proxy_stack

from decision_sizes import COUNTS, HEADER_LIMIT, SET_COOKIE_LIMIT, SIZE_CONFIG, expected, size_document
from edgesplit.core import DecisionClaims, Manifest, sign_token
from servers import KEYRING

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


@pytest.fixture
async def sizes(tmp_path: Path) -> AsyncIterator[Stack]:
    async with proxy_stack(tmp_path, size_document()) as running:
        yield running


def decision_set_cookie(resp: aiohttp.ClientResponse) -> str:
    [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    return cookie


@pytest.mark.parametrize("count", COUNTS)
async def test_decisions_fit_and_verify_at_every_size(sizes: Stack, count: int) -> None:
    visitor = f"sized-visitor-{count:04d}"
    path = f"/n/{count}"
    resp, body = await sizes.get(path, visitor, headers=BROWSER)
    assert resp.status == 200
    want = expected(visitor, path)
    assert len(want) == count
    assert body["verified"] and body["assignments"] == want
    header = body["decision_header"]
    assert header.startswith("es2.") and len(header.encode()) < HEADER_LIMIT
    set_cookie = decision_set_cookie(resp)
    assert len(set_cookie.encode()) < SET_COOKIE_LIMIT
    # The browser sends it back: accepted as is (nothing to set again), and /track reads it.
    cookie = set_cookie.split(";")[0]
    again, again_body = await sizes.get(
        path, headers={**BROWSER, "Cookie": f"edgesplit_id={visitor}; {cookie}"}
    )
    assert again.headers.getall("Set-Cookie", []) == [] and again_body["assignments"] == want
    async with sizes.client.post(
        sizes.base + "/__edgesplit/track",
        json={"event": "purchase", "id": f"order-{count}"},
        headers={"Cookie": cookie},
    ) as tracked:
        assert tracked.status == 202, await tracked.text()


async def test_a_visitor_with_an_es1_cookie_keeps_it_and_is_not_rebucketed(sizes: Stack) -> None:
    visitor, path = "legacy-visitor-0001", "/n/20"
    now = int(time.time())
    legacy = sign_token(
        DecisionClaims(visitor, expected(visitor, path), SIZE_CONFIG.version, now - 60, now + 3600), KEYRING
    )
    assert legacy.startswith("es1.")
    cookies = f"edgesplit_id={visitor}; edgesplit_decision={legacy}"
    resp, body = await sizes.get(path, headers={**BROWSER, "Cookie": cookies})
    # It verified and says what the visitor would get: the cookie is kept, not replaced.
    assert resp.headers.getall("Set-Cookie", []) == []
    assert body["verified"] and body["assignments"] == expected(visitor, path)
    async with sizes.client.post(
        sizes.base + "/__edgesplit/track", json={"event": "purchase", "id": "legacy-1", "token": legacy}
    ) as tracked:
        assert tracked.status == 202, await tracked.text()


async def test_the_manifest_is_published_for_origins_and_browsers(sizes: Stack) -> None:
    manifest_id = Manifest.from_config(SIZE_CONFIG).id
    async with sizes.client.get(f"{sizes.base}/__edgesplit/manifest/{manifest_id}") as published:
        assert published.status == 200 and "immutable" in published.headers["Cache-Control"]
        text = await published.text()
    parsed = Manifest.parse(text)
    assert parsed is not None and parsed.id == manifest_id and len(parsed.experiments) == 500
    for bad in ("AAAAAAAAAAAAAAAA", "../status.json", "x"):
        async with sizes.client.get(f"{sizes.base}/__edgesplit/manifest/{bad}") as missing:
            assert missing.status == 404


async def test_es1_for_origins_not_yet_migrated_and_es2_where_es1_could_not_arrive(tmp_path: Path) -> None:
    document = size_document("sizes-es1")
    document["decision"] = {"token_format": "es1"}
    async with proxy_stack(tmp_path, document) as stack:
        for count, form in ((1, "es1."), (20, "es1."), (100, "es2."), (500, "es2.")):
            visitor, path = f"es1-visitor-{count:04d}", f"/n/{count}"
            resp, body = await stack.get(path, visitor, headers=BROWSER)
            assert body["verified"] and body["assignments"] == expected(visitor, path)
            assert body["decision_header"].startswith(form), (count, body["decision_header"][:4])
            set_cookie = decision_set_cookie(resp)
            assert set_cookie.startswith("edgesplit_decision=" + form) and len(set_cookie) < SET_COOKIE_LIMIT
