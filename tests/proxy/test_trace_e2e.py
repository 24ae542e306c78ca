"""The decision trace through the real proxy: only with the admin token or the signed debug
cookie, never for ordinary visitors, never cached, never forwarded."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_stack import Stack

from edgesplit.core import assign, parse_config
from edgesplit.pipeline.trace import DEBUG_COOKIE, debug_cookie_value
from edgesplit.status.access import ADMIN_COOKIE, session_value
from servers import CONFIG

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
TOKEN = "an-admin-token-for-the-trace-tests"


async def test_no_trace_without_an_admin_token_configured(stack: Stack) -> None:
    for value in ("", "anything", TOKEN):
        resp, _ = await stack.get("/page/home", "trace-v1", headers={**BROWSER, "x-edgesplit-trace": value})
        assert "x-edgesplit-trace" not in resp.headers
    resp, _ = await stack.get(
        "/page/home",
        "trace-v1",
        headers={
            **BROWSER,
            "Cookie": f"edgesplit_id=trace-v1; {DEBUG_COOKIE}={debug_cookie_value(TOKEN, time.time())}",
        },
    )
    assert "x-edgesplit-trace" not in resp.headers


async def test_the_admin_token_gets_a_trace_that_explains_the_decision(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    config = parse_config(CONFIG)
    visitor = "trace-visitor-7"
    resp, body = await stack.get("/page/shop-1", visitor, headers={**BROWSER, "x-edgesplit-trace": TOKEN})
    trace = json.loads(resp.headers["x-edgesplit-trace"])
    assert trace["config_version"] == "e2e-1" and trace["visitor"] == visitor and trace["cache"] == "MISS"
    expected = assign(config, visitor, {"path": "/page/shop-1"})
    for key in ("hero", "shop"):
        entry = trace["experiments"][key]
        assert (entry["variant"], entry["reason"], entry["in"]) == (
            expected[key].variant,
            expected[key].reason,
            True,
        )
        assert entry["bucket"] == round(config.experiment(key).hasher(visitor), 6)
        assert entry["targeting"] == {"path": True}
    assert trace["experiments"]["elsewhere"]["reason"] == "not_targeted"
    assert trace["experiments"]["elsewhere"]["targeting"] == {"path": False}
    assert resp.headers["Cache-Control"] == "private, no-store"
    # The same page for an ordinary visitor in the same variants: a cache hit, no trace.
    twin = next(
        f"trace-twin-{n:05d}"
        for n in range(10_000)
        if {k: a.variant for k, a in assign(config, f"trace-twin-{n:05d}", {"path": "/page/shop-1"}).items()}
        == {k: a.variant for k, a in expected.items()}
    )
    for headers in (
        BROWSER,
        {**BROWSER, "x-edgesplit-trace": "wrong"},
        {**BROWSER, "x-edgesplit-trace": TOKEN[:-1]},
    ):
        resp, _ = await stack.get("/page/shop-1", twin, headers=headers)
        assert resp.headers["x-edgesplit-cache"] == "HIT" and "x-edgesplit-trace" not in resp.headers
    resp, _ = await stack.get("/page/shop-1", visitor, headers={**BROWSER, "x-edgesplit-trace": TOKEN})
    assert json.loads(resp.headers["x-edgesplit-trace"])["cache"] == "HIT"


async def test_the_token_and_the_debug_cookie_never_reach_the_origin(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    debug = debug_cookie_value(TOKEN, time.time())
    resp, body = await stack.get(
        "/echo",
        headers={
            **BROWSER,
            "x-edgesplit-trace": TOKEN,
            "Cookie": f"edgesplit_id=e1; {DEBUG_COOKIE}={debug}; keep=1",
        },
    )
    assert "x-edgesplit-trace" in resp.headers
    forwarded = {k.lower(): v for k, v in body["headers"].items()}
    assert "x-edgesplit-trace" not in forwarded
    assert DEBUG_COOKIE not in forwarded.get("cookie", "") and "keep=1" in forwarded["cookie"]
    assert TOKEN not in json.dumps(body)


async def test_the_status_page_sets_a_debug_cookie_that_traces_this_browser(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    url = stack.base + "/__edgesplit/debug"
    async with stack.client.post(url, data={"trace": "on"}, allow_redirects=False) as resp:
        assert resp.status == 401 and "Set-Cookie" not in resp.headers
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with stack.client.post(url, data={"trace": "on"}, headers=auth, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/__edgesplit/status"
        cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{DEBUG_COOKIE}=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    resp, _ = await stack.get(
        "/page/home", headers={**BROWSER, "Cookie": f"edgesplit_id=debug-visitor-1; {DEBUG_COOKIE}={value}"}
    )
    assert json.loads(resp.headers["x-edgesplit-trace"])["visitor"] == "debug-visitor-1"
    async with stack.client.post(url, data={"trace": "off"}, headers=auth, allow_redirects=False) as resp:
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
    _, page = await stack.get("/__edgesplit/status", headers=auth)
    assert b'action="debug"' in page


async def test_forged_expired_and_swapped_cookies_never_switch_tracing_on(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    now = time.time()
    expiry = int(now) + 600
    candidates = [
        debug_cookie_value(TOKEN, now - 2 * 3600),  # expired
        debug_cookie_value("another-admin-token-entirely", now),  # another token
        f"{expiry}.{'0' * 64}",  # forged
        session_value(TOKEN, now),  # the admin session cookie is not a debug cookie
    ]
    for value in candidates:
        resp, _ = await stack.get(
            "/page/home", headers={**BROWSER, "Cookie": f"edgesplit_id=f1; {DEBUG_COOKIE}={value}"}
        )
        assert "x-edgesplit-trace" not in resp.headers, value
    # ...and a debug cookie does not open the status page.
    debug = debug_cookie_value(TOKEN, now)
    resp, _ = await stack.get("/__edgesplit/status.json", headers={"Cookie": f"{ADMIN_COOKIE}={debug}"})
    assert resp.status == 401


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
    cookie=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=";,"), max_size=100
    ),
)
async def test_no_guessed_header_or_cookie_switches_tracing_on(
    stack: Stack, header: str, cookie: str
) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    resp, _ = await stack.get(
        "/page/home",
        headers={
            **BROWSER,
            "x-edgesplit-trace": header,
            "Cookie": f"edgesplit_id=g1; {DEBUG_COOKIE}={cookie}",
        },
    )
    assert resp.status == 200 and "x-edgesplit-trace" not in resp.headers
