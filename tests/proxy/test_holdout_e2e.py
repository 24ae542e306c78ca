"""The global holdout through the real proxy: the origin's decision, the events, the status."""

from __future__ import annotations

import json
import time

from local_stack import Stack

from edgesplit.core import parse_config, verify_token
from edgesplit.core.holdout import HOLDOUT_VARIANT
from edgesplit.pipeline.manifests import RECENT_MANIFESTS
from servers import CONFIG, KEYRING

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
TOKEN = "an-admin-token-of-some-length-0123456789"
HOLDOUT = {
    **CONFIG,
    "version": "e2e-holdout",
    "holdout": {"share": 0.25, "seed": "e2e", "experiments": ["hero"]},
}


async def test_held_out_visitors_get_the_control_marked_in_tokens_events_and_status(stack: Stack) -> None:
    assert stack.service.pipeline.config.offer(HOLDOUT) is None
    stack.service.pipeline.admin.admin_token = TOKEN
    config = parse_config(HOLDOUT)
    visitors = [f"holdout-e2e-{n:04d}" for n in range(80)]
    held = [v for v in visitors if config.holdout.contains(v)]
    assert 5 < len(held) < 40
    cookies: dict[str, str] = {}
    for visitor in visitors:
        resp, body = await stack.get("/nocache/home", visitor, headers=BROWSER)
        claims = verify_token(
            body["decision_header"], KEYRING, time.time(), manifests=RECENT_MANIFESTS
        ).claims
        if visitor in held:
            assert body["assignments"] == {"hero": "control"}
            assert claims.holdout == {"hero"} and "hero" in claims.held_out
            [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
            cookies[visitor] = cookie.split(";")[0].split("=", 1)[1]
        else:
            assert claims.holdout == frozenset()
    exposures = [e for e in stack.outbox.events if e["type"] == "exposure"]
    marked = {e["visitor_id"] for e in exposures if e.get("holdout")}
    assert marked == set(held)
    assert all(e["variant"] == HOLDOUT_VARIANT for e in exposures if e.get("holdout"))

    buyer = held[0]
    async with stack.client.post(
        stack.base + "/__edgesplit/track", json={"event": "buy", "token": cookies[buyer]}
    ) as resp:
        assert resp.status == 202
    [conversion] = [e for e in stack.outbox.events if e["type"] == "conversion"]
    assert conversion["holdout"] is True and conversion["assignments"] == {"hero": HOLDOUT_VARIANT}

    resp, report = await stack.get("/__edgesplit/status.json", headers={"Authorization": f"Bearer {TOKEN}"})
    [row] = report["holdout"]["by_experiment"]
    assert row["holdout"]["exposures"] == len(held) and row["holdout"]["conversions"] == 1
    assert row["rest"]["exposures"] == len(visitors) - len(held)
    hero = next(e for e in report["experiments"] if e["key"] == "hero")
    assert sum(v["exposures"] for v in hero["variants"]) == len(visitors) - len(held)
    resp, page = await stack.get("/__edgesplit/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert b'class="holdout"' in page and json.dumps(0.25).encode() in page
