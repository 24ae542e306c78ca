"""edgesplit's own failures never take the page down: served open, counted, logged once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from local_stack import Stack

BROWSER = {"User-Agent": "Mozilla/5.0 Firefox/130.0"}


class Broken:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"injected failure: {name}")


class BrokenOutbox:
    def submit(self, events: Any) -> None:
        raise RuntimeError("injected outbox failure")


class BrokenCache:
    async def lookup(self, key: str, request: Any) -> None:
        raise RuntimeError("injected cache failure")

    def store(self, key: str, request: Any, response: Any, ttl: int, stored: Any = None) -> Any:
        raise RuntimeError("injected cache failure")


@pytest.mark.parametrize(
    "part,stage", [("keyring", "decide"), ("outbox", "outbox"), ("cache", "cache_lookup")]
)
async def test_failures_are_served_open_and_counted(
    stack: Stack, part: str, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    replacement = {"keyring": Broken(), "outbox": BrokenOutbox(), "cache": BrokenCache()}[part]
    setattr(stack.service.pipeline, part, replacement)
    caplog.set_level(logging.ERROR, logger="edgesplit.pipeline")
    for n in range(5):
        resp, body = await stack.get(f"/page/fail-{n}", "visitor-abcdef12", headers=BROWSER)
        assert resp.status == 200 and body["fetch"] == 1
        if part == "keyring":
            assert body["decision_header"] is None  # no decision rather than no page
    assert stack.service.metrics.value("edgesplit_internal_errors_total", stage=stage) == 5
    assert len([r for r in caplog.records if f"failed in {stage} and served" in r.getMessage()]) == 1


async def test_consent_required_holds_cookie_and_exposures(stack: Stack) -> None:
    config = stack.service.holder.current
    document = {
        "schema_version": 1,
        "version": "consent",
        "identity": {"secure": False},
        "policy": {"consent": {"required": True}},
        "experiments": [
            {
                "key": e.key,
                "variants": [{"key": v.key} for v in e.variants],
                "targeting": {"paths": list(e.paths)},
            }
            for e in config.experiments
        ],
    }
    assert stack.service.holder.offer(document) is None
    resp, body = await stack.get("/page/home", headers=BROWSER)
    assert "Set-Cookie" not in resp.headers and body["verified"] and stack.outbox.events == []
    resp, body = await stack.get("/page/home", headers={**BROWSER, "Cookie": "edgesplit_consent=yes"})
    assert resp.headers["Set-Cookie"].startswith("edgesplit_id=") and len(stack.outbox.events) == 1


async def test_new_visitor_on_a_cache_hit_still_gets_a_cookie(stack: Stack) -> None:
    await stack.get("/page/cookie-hit", "visitor-abcdef12", headers=BROWSER)
    for _ in range(10):
        resp, _ = await stack.get("/page/cookie-hit", headers=BROWSER)
        if resp.headers["x-edgesplit-cache"] == "HIT":
            break
    assert resp.headers["x-edgesplit-cache"] == "HIT" and "edgesplit_id=" in resp.headers["Set-Cookie"]


async def test_a_failing_queue_drops_events_counted_and_requests_still_served(tmp_path) -> None:  # noqa: ANN001
    from edgesplit.queue.delivery import DeliveryOutbox
    from edgesplit.vendors import SendResult, WebhookAdapter

    class BrokenQueue:
        async def enqueue(self, vendor: str, events: Any) -> None:
            raise OSError("disk full")

        async def dead_letter(self, vendor: str, events: Any, reason: str) -> None:
            raise OSError("disk full")

    async def vendor_down(request: Any) -> SendResult:
        return SendResult(None, None, "connection refused")

    from edgesplit.pipeline import Metrics
    from edgesplit.proxy.runtime import SystemClock, TaskBackground

    metrics, background = Metrics(), TaskBackground()
    outbox = DeliveryOutbox(
        {"v": WebhookAdapter("http://vendor.invalid/b", name="v")},
        vendor_down,
        BrokenQueue(),
        background,
        SystemClock(),
        metrics,
        linger_seconds=0,
    )
    outbox.submit(
        [
            {
                "id": f"e{n}",
                "type": "exposure",
                "visitor_id": "x",
                "experiment": "hero",
                "variant": "a",
                "timestamp": "2026-11-24T00:00:00.000Z",
            }
            for n in range(3)
        ]
    )
    await background.drain()
    assert metrics.value("edgesplit_events_dropped_total", vendor="v", reason="queue_unavailable") == 3


@pytest.mark.parametrize("on_failure", ["control", "none"])
async def test_a_bug_in_deciding_sends_the_control_decision_or_none(
    stack: Stack, on_failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import edgesplit.pipeline.request_decision as request_decision
    from servers import CONFIG

    document = json.loads(json.dumps(CONFIG))
    document["decision"] = {"on_failure": on_failure}
    assert stack.service.holder.offer(document) is None

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug in deciding")

    monkeypatch.setattr(request_decision, "decide", broken)  # the steps the proxy runs
    for n in range(4):
        resp, body = await stack.get(f"/page/shop-bug-{n}", f"bug-visitor-{n:04d}", headers=BROWSER)
        assert resp.status == 200 and body["fetch"] == 1
        assert "edgesplit_id" not in resp.headers.get("Set-Cookie", "")
        if on_failure == "control":  # a verified decision: origins that require one keep rendering
            assert body["verified"] and body["assignments"] == {"hero": "control", "shop": "a"}
            assert body["visitor_id"] == ""
        else:
            assert body["decision_header"] is None
    assert stack.service.metrics.value("edgesplit_internal_errors_total", stage="decide") == 4
    assert stack.outbox.events == []  # nobody was exposed to anything
