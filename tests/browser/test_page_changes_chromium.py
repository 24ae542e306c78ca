"""HTML changes in headless Chromium through the self-hosted proxy: a visitor in the variant
never sees the control's hero, not even for one frame, and the bootstrap's assignments are the
decision cookie's. Run on a page with a strict Content-Security-Policy and on one with a nonce,
so the browser itself checks that the bootstrap honours the policy."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser_support import run_browser_script

from edgesplit.core import verify_token
from edgesplit.pipeline.manifests import RECENT_MANIFESTS
from page_origin import page_stack
from servers import KEYRING


@pytest.mark.parametrize("path", ["/landing-strict", "/landing-nonce"])
async def test_a_variant_visitor_never_sees_the_control_and_the_bootstrap_matches_the_cookie(
    tmp_path: Path, path: str
) -> None:
    async for stack in page_stack(tmp_path, bootstrap=True):
        control = stack.visitor_in("hero", "control", path)
        variant = stack.visitor_in("hero", "b", path)
        result = await run_browser_script("page_changes.mjs", stack.base, path, variant, control)
    by_visitor = {r["visitor"]: r for r in result["results"]}
    seen_b, seen_control = by_visitor[variant], by_visitor[control]

    assert seen_b["frames"], "no frame was captured: the scenario tests nothing"
    assert {f["hero"] for f in seen_b["frames"]} == {"Variant hero"}
    assert {f["button"] for f in seen_b["frames"]} == {"cta cta-b"}
    assert seen_b["controlSeen"] == []  # never even parsed into the variant visitor's page
    assert {f["hero"] for f in seen_control["frames"]} == {"Control hero"}
    assert {f["button"] for f in seen_control["frames"]} == {"cta"}

    for seen, expected in ((seen_b, "b"), (seen_control, "control")):
        claims = verify_token(seen["token"], KEYRING, time.time(), manifests=RECENT_MANIFESTS).claims
        seen["cookie"] = dict(claims.assignments) if claims is not None else None
        assert seen["cookie"] == {"hero": expected}
        assert seen["bootstrap"] == seen["cookie"]  # the inline script ran: CSP let it
        assert seen["errors"] == [] and seen["violations"] == []
        assert seen["client"] is not None and seen["client"]["assignments"] == {"hero": expected}
