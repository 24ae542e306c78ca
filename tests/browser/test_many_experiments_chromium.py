"""Issue 19 in headless Chromium: with 500 experiments applying to the page, the browser keeps
the decision cookie and the page's client reads (and verifies) all 500 assignments."""

from __future__ import annotations

import json
from pathlib import Path

from browser_support import run_browser_script

from decision_sizes import SET_COOKIE_LIMIT, size_document
from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.demo.run import DemoStack


async def test_chromium_keeps_the_cookie_and_the_client_reads_500_assignments(tmp_path: Path) -> None:
    document = size_document("sizes-browser")
    for experiment in document["experiments"]:
        del experiment["targeting"]  # every one applies to every page of the demo
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(document))
    config = load_config(document)
    stack = DemoStack(port=0, origin_port=0, vendor_port=0, config_path=str(config_path))
    await stack.start()
    try:
        result = await run_browser_script("many_experiments.mjs", stack.proxy_url)
    finally:
        await stack.stop()

    cookies = {c["name"]: c["value"] for c in result["cookies"]}
    assert "edgesplit_decision" in cookies, "Chromium dropped the decision cookie"
    token = cookies["edgesplit_decision"]
    assert token.startswith("es2.") and len("edgesplit_decision=" + token) < SET_COOKIE_LIMIT
    visitor = cookies["edgesplit_id"]
    want = {k: a.variant for k, a in assign(config, visitor, {"path": "/"}).items() if a.variant is not None}
    assert len(want) == 500
    for view in result["views"]:
        assert view["readable"]
        assert view["api"]["verified"] is True  # the demo signs with Ed25519: checked in the page
        assert view["api"]["assignments"] == want
        assert view["api"]["drift"] == []
    assert len(result["manifestFetches"]) == 1  # then kept for the session
    assert result["errors"] == []
