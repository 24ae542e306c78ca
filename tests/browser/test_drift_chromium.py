"""The browser client in headless Chromium against the demo: a variant change mid-session
gives exactly one drift event and is never shown."""

from __future__ import annotations

import shutil
from pathlib import Path

from browser_support import run_browser_script

from edgesplit.demo import DEMO_CONFIG_PATH
from edgesplit.demo.run import DemoStack


async def test_forced_variant_change_mid_session_gives_one_drift_event_and_no_visible_flip(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    shutil.copy(DEMO_CONFIG_PATH, config)
    stack = DemoStack(port=0, origin_port=0, vendor_port=0, config_path=str(config))
    await stack.start()
    try:
        result = await run_browser_script(
            "drift.mjs", stack.proxy_url, str(config), SCREENSHOT=str(tmp_path / "drift.png")
        )
        assert stack.service is not None
        await stack.service.background.drain()
        drift_events = [e for e in stack.vendor.events.values() if e.get("type") == "drift"]
    finally:
        await stack.stop()

    first, views = result["first"], result["views"]
    other = result["served"]
    assert other != first, "the config change did not move this visitor: the scenario tests nothing"
    home = [v for v in views if v["path"] == "/"]
    assert [v["shown"] for v in home] == [first] * 5  # what the person saw, view after view
    assert all(v["api"]["verified"] for v in views)  # the demo signs with Ed25519: the browser checks
    assert home[0]["api"]["assignments"] == {"hero-headline": first}
    assert all(v["api"]["drift"] == [] for v in home)  # after the reload the session is steady
    assert home[2]["pin"] and not home[1]["pin"]

    # No animation frame ever showed the other variant while the page was visible.
    shown = {frame["variant"] for frame in result["frames"] if frame["path"] == "/"}
    assert first in shown and other not in shown, shown

    # Exactly one drift report, accepted, carrying both sides.
    [track] = result["tracks"]
    assert {k: track["body"][k] for k in ("experiment", "expected", "observed")} == {
        "experiment": "hero-headline",
        "expected": first,
        "observed": other,
    }
    [event] = drift_events  # accepted by the track endpoint, delivered to the vendor once
    assert event["properties"] == {"experiment": "hero-headline", "expected": first, "observed": other}
    assert (tmp_path / "drift.png").stat().st_size > 1000

    # A tampered, a garbage and an empty decision cookie: nothing trusted, no error, page shown.
    for name, probe in result["untrusted"].items():
        assert probe["api"] == {"assignments": {}, "verified": False}, (name, probe)
        assert not probe["hidden"] and probe["errors"] == [] and probe["planted"], name
