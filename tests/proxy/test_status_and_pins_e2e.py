"""The status page's numbers through the real proxy on 127.0.0.1: the guardrail counts in SQLite
agree with the metrics and with what visitors got. The admin routes, sign-in, pins and drift
reports are tested on the pipeline (tests/pipeline/test_admin_routes.py, test_track_endpoint.py)."""

from __future__ import annotations

from local_stack import Stack

from edgesplit import load_config
from edgesplit.core import assign
from servers import CONFIG

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
TOKEN = "an-admin-token-of-some-length-0123456789"


def decision_cookie(resp) -> str:  # noqa: ANN001
    [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    return cookie.split(";")[0].split("=", 1)[1]


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
