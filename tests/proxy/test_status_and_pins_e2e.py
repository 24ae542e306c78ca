"""The admin pages, session pins and drift reports through the real proxy on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from local_stack import Stack

from edgesplit import load_config
from edgesplit.core import assign
from servers import CONFIG

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
TOKEN = "an-admin-token-of-some-length-0123456789"


def decision_cookie(resp) -> str:  # noqa: ANN001
    [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    return cookie.split(";")[0].split("=", 1)[1]


async def test_status_page_is_off_without_a_token_and_asks_for_one_with(stack: Stack) -> None:
    resp, body = await stack.get("/__edgesplit/status")
    assert resp.status == 404 and b"admin token" in body
    stack.service.pipeline.admin.admin_token = TOKEN
    resp, body = await stack.get("/__edgesplit/status")
    assert resp.status == 401 and b'name="token"' in body
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    resp, body = await stack.get("/__edgesplit/status.json")
    assert resp.status == 401 and body == {"error": "admin token required"}
    assert stack.service.metrics.value("edgesplit_admin_denied_total") == 2


async def test_signing_in_sets_a_session_cookie_that_opens_the_page(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    url = stack.base + "/__edgesplit/status"
    async with stack.client.post(url, data={"token": "wrong"}, allow_redirects=False) as resp:
        assert resp.status == 401 and "Set-Cookie" not in resp.headers
    async with stack.client.post(url, data={"token": TOKEN}, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/__edgesplit/status"
        cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/__edgesplit" in cookie
    assert TOKEN not in cookie
    session = cookie.split(";")[0]
    resp, body = await stack.get("/__edgesplit/status", headers={"Cookie": session})
    assert resp.status == 200 and b"edgesplit status" in body and b"hero" in body
    resp, _ = await stack.get("/__edgesplit/metrics", headers={"Cookie": session})
    assert resp.status == 200


async def test_status_json_matches_the_metrics_and_what_visitors_got(stack: Stack) -> None:
    stack.service.pipeline.admin.admin_token = TOKEN
    auth = {"Authorization": f"Bearer {TOKEN}", **BROWSER}
    config = load_config(CONFIG)
    seen = {"control": 0, "bold": 0}
    for n in range(120):
        visitor = f"status-visitor-{n:04d}"
        await stack.get("/page/home", visitor, headers=BROWSER)
        seen[assign(config, visitor, {"path": "/page/home"})["hero"].variant] += 1
    await stack.get("/page/home", "status-visitor-0000", headers=BROWSER)  # a repeat is no new exposure
    resp, report = await stack.get("/__edgesplit/status.json", headers=auth)
    assert resp.status == 200
    hero = next(e for e in report["experiments"] if e["key"] == "hero")
    assert {v["key"]: v["exposures"] for v in hero["variants"]} == seen
    assert {v["key"]: v["requests"] for v in hero["variants"]}["control"] >= seen["control"]
    _, metrics = await stack.get("/__edgesplit/metrics", headers=auth)
    for variant, count in seen.items():
        line = f'edgesplit_variant_exposures{{experiment="hero",variant="{variant}"}} {count}'
        assert line in metrics.decode(), line


async def test_client_script_and_verifier_are_served(stack: Stack) -> None:
    resp, body = await stack.get("/__edgesplit/client.js")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/javascript")
    assert body.decode() == (Path(__file__).parents[2] / "js" / "edgesplit-client.js").read_text()
    resp, body = await stack.get("/__edgesplit/verify.mjs")
    assert resp.status == 200 and b"export async function verifyDecision" in body


async def test_a_pin_keeps_the_first_variant_across_a_config_change(stack: Stack, tmp_path: Path) -> None:
    visitor = "pinned-visitor-01"
    first, body = await stack.get("/page/home", visitor, headers=BROWSER)
    first_token, first_variant = decision_cookie(first), body["assignments"]["hero"]
    changed = json.loads(json.dumps(CONFIG))
    changed["version"] = "e2e-2"
    changed["experiments"][0]["variants"] = [
        {"key": "control", "weight": 1.0 if first_variant == "bold" else 0.0},
        {"key": "bold", "weight": 0.0 if first_variant == "bold" else 1.0},
    ]
    stack.service.holder.offer(changed)
    other = "bold" if first_variant == "control" else "control"
    resp, body = await stack.get("/page/home", visitor, headers=BROWSER)
    assert body["assignments"]["hero"] == other  # drift: the config moved this visitor
    drifted_token = decision_cookie(resp)
    cookies = f"edgesplit_id={visitor}; edgesplit_pin={first_token}"
    resp, body = await stack.get("/page/home", headers={**BROWSER, "Cookie": cookies})
    assert body["assignments"]["hero"] == first_variant  # pinned for the session
    assert "edgesplit_pin" not in stack.origin.last_headers.get("cookie", "")
    someone_else = f"edgesplit_id=another-visitor-9; edgesplit_pin={first_token}"
    _, body = await stack.get("/page/home", headers={**BROWSER, "Cookie": someone_else})
    assert body["assignments"]["hero"] == other  # a pin only works for the visitor it was issued to

    report = {
        "type": "drift",
        "experiment": "hero",
        "expected": first_variant,
        "observed": other,
        "first_token": first_token,
        "token": drifted_token,
    }
    async with stack.client.post(stack.base + "/__edgesplit/track", json=report) as resp:
        assert resp.status == 202, await resp.text()
    [event] = [e for e in stack.outbox.events if e["type"] == "drift"]
    assert event["properties"] == {"experiment": "hero", "expected": first_variant, "observed": other}
    assert stack.service.metrics.value("edgesplit_drift_total", experiment="hero") == 1
    assert stack.service.metrics.value("edgesplit_conversions_total") == 0  # drift is not a conversion
