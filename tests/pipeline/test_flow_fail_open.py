"""edgesplit's own failures never take the page down: each port's failure is served open,
counted per stage and logged once (``Pipeline`` on the fakes; also runs inside Pyodide)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flow_support import ADMIN_TOKEN, CONFIG, copy_of, make_flow

import edgesplit.pipeline.request_decision as request_decision
from edgesplit.pipeline.testing import run, virtual_time


class Broken:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"injected failure: {name}")


def break_part(flow: Any, part: str) -> None:
    failure = RuntimeError(f"injected {part} failure")
    if part == "keyring":
        flow.pipeline.keyring = Broken()
    elif part == "outbox":
        flow.outbox.fail = failure
    elif part == "cache_lookup":
        flow.cache.fail_lookup = failure
    elif part == "cache_store":
        flow.cache.fail_store = failure
    elif part == "observer":
        flow.observer.fail = failure


@pytest.mark.parametrize(
    "part,stage",
    [
        ("keyring", "decide"),
        ("outbox", "outbox"),
        ("cache_lookup", "cache_lookup"),
        ("cache_store", "cache_store"),
        ("observer", "observer"),
    ],
)
def test_a_failing_part_is_served_open_counted_and_logged_once(
    part: str, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    flow = make_flow()
    break_part(flow, part)
    caplog.set_level(logging.ERROR, logger="edgesplit.pipeline")

    async def visits() -> None:
        for n in range(5):
            page = await flow.get(f"/page/fail-{n}", f"visitor-{n:08d}")
            assert page.status == 200 and page.body["fetch"] == 1
            if part == "keyring":
                assert page.body["decision_header"] is None  # no decision rather than no page
            else:
                assert page.body["verified"]

    run(visits())
    assert flow.metric("edgesplit_internal_errors_total", stage=stage) == 5
    assert len([r for r in caplog.records if f"failed in {stage} and served" in r.getMessage()]) == 1
    assert len(flow.pipeline.coalescer) == 0  # a failed store still lets followers go


@pytest.mark.parametrize("on_failure", ["control", "none"])
def test_a_bug_in_deciding_sends_the_control_decision_or_none(
    on_failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = copy_of(CONFIG)
    document["decision"] = {"on_failure": on_failure}
    flow = make_flow(document)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug in deciding")

    monkeypatch.setattr(request_decision, "decide", broken)

    async def visits() -> None:
        for n in range(4):
            page = await flow.get(f"/page/shop-bug-{n}", f"bug-visitor-{n:04d}")
            assert page.status == 200 and page.body["fetch"] == 1
            assert not any(c.startswith("edgesplit_id") for c in page.headers.get_all("set-cookie"))
            if on_failure == "control":  # a verified decision: origins that require one keep rendering
                assert page.body["verified"] and page.assignments == {"hero": "control", "shop": "a"}
                assert page.body["visitor_id"] == ""
            else:
                assert page.body["decision_header"] is None

    run(visits())
    assert flow.metric("edgesplit_internal_errors_total", stage="decide") == 4
    assert flow.outbox.events == []  # nobody was exposed to anything


@virtual_time
async def test_consent_required_holds_the_cookie_and_the_exposures() -> None:
    document = copy_of(CONFIG)
    document["policy"] = {"consent": {"required": True}}
    flow = make_flow(document)
    page = await flow.get("/page/home")
    assert page.headers.get_all("set-cookie") == [] and page.body["verified"] and flow.outbox.events == []
    page = await flow.get("/page/home", headers={"cookie": "edgesplit_consent=yes"})
    assert page.headers.get_all("set-cookie")[0].startswith("edgesplit_id=")
    assert len(flow.outbox.events) == 1


@virtual_time
async def test_a_failing_status_source_still_shows_the_page_and_the_metrics() -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    flow.status.fail = RuntimeError("counters unreachable")
    auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    status = await flow.get("/__edgesplit/status.json", headers=auth)
    assert status.status == 200 and [e["key"] for e in status.body["experiments"]][:1] == ["hero"]
    metrics = await flow.get("/__edgesplit/metrics", headers=auth)
    assert metrics.status == 200
    assert flow.metric("edgesplit_internal_errors_total", stage="status") == 2


@virtual_time
async def test_observer_sees_every_decided_request_and_not_the_others() -> None:
    flow = make_flow()
    await flow.get("/page/home", "visitor-abcdef12")
    await flow.get("/other-page", "visitor-abcdef12")  # no experiment: nothing to count
    [(decision, status, latency)] = flow.observer.requests
    assert status == 200 and latency >= 0 and dict(decision.vector)["hero"] in ("control", "bold")
