"""``POST /__edgesplit/track`` through ``Pipeline.handle`` (``track_endpoint.TrackEndpoint``):
what is accepted, what is refused and how, and what one visitor can do to the counts. On the
fakes, so 200 posts take milliseconds (also runs inside Pyodide)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flow_support import KEYRING, NOW, Flow, make_flow, set_cookie

from edgesplit.core import DecisionClaims, sign_token
from edgesplit.pipeline.parts import Shared
from edgesplit.pipeline.testing import request, run, virtual_time
from edgesplit.pipeline.track_guard import TrackGuard, TrackLimits


def limited(limits: TrackLimits) -> Flow:
    return make_flow(shared=lambda clock: Shared.create(clock, lambda: "id", track_guard=TrackGuard(limits)))


def signed(
    visitor: str, assignments: dict[str, str], held_out: frozenset[str] = frozenset(), age: int = 0
) -> str:
    issued = int(NOW) - age
    return sign_token(
        DecisionClaims(visitor, assignments, "e2e-1", issued, issued + 86_400, held_out), KEYRING
    )


def drift_report(expected: str, observed: str, first_token: str, token: str) -> dict[str, str]:
    return {
        "type": "drift",
        "experiment": "hero",
        "expected": expected,
        "observed": observed,
        "first_token": first_token,
        "token": token,
    }


@virtual_time
async def test_a_conversion_is_accepted_once_and_counted() -> None:
    flow = make_flow()
    token = await flow.token("buyer-00000001")
    status, body = await flow.track({"event": "purchase", "value": 42.5, "id": "order-1", "token": token})
    assert status == 202 and body["accepted"]
    [event] = flow.outbox.of_type("conversion")
    assert (
        event["visitor_id"] == "buyer-00000001" and event["value"] == 42.5 and event["id"] == body["accepted"]
    )
    assert event["assignments"] == flow.expected("buyer-00000001", "/page/home")
    assert flow.observer.conversions == [event]
    assert flow.metric("edgesplit_conversions_total") == 1


@virtual_time
async def test_the_decision_cookie_or_header_stands_in_for_the_token() -> None:
    flow = make_flow()
    token = await flow.token("buyer-00000002")
    status, _ = await flow.track({"event": "a"}, headers={"cookie": f"edgesplit_decision={token}"})
    assert status == 202
    status, _ = await flow.track({"event": "b"}, headers={"x-edgesplit-decision": token})
    assert status == 202
    assert [e["event"] for e in flow.outbox.of_type("conversion")] == ["a", "b"]


@virtual_time
async def test_the_same_conversion_id_counts_once() -> None:
    flow = make_flow()
    token = await flow.token("buyer-00000003")
    answers = [await flow.track({"event": "purchase", "id": "same-order", "token": token}) for _ in range(37)]
    assert all(status == 202 for status, _ in answers)  # a retrying client is told it worked
    assert [body.get("duplicate", False) for _, body in answers] == [False] + [True] * 36
    assert len(flow.outbox.of_type("conversion")) == 1 and len(flow.observer.conversions) == 1
    assert flow.metric("edgesplit_conversions_total") == 1
    assert flow.metric("edgesplit_track_duplicates_total") == 36


@virtual_time
async def test_caps_per_token_and_per_visitor_answer_429_and_are_counted() -> None:
    flow = limited(TrackLimits(per_visitor_per_day=5, per_token=3, per_client_per_second=0))
    first = await flow.token("capped-00000001")
    statuses = [(await flow.track({"event": "buy", "id": f"o{n}", "token": first}))[0] for n in range(4)]
    assert statuses == [202, 202, 202, 429]
    assert flow.metric("edgesplit_track_rejected_total", reason="token_cap") == 1
    flow.clock.advance(3600 * 2)  # a new decision token later the same day
    second = await flow.token("capped-00000001", "/nocache/other")
    assert second != first
    statuses = [(await flow.track({"event": "buy", "id": f"p{n}", "token": second}))[0] for n in range(3)]
    assert statuses == [202, 202, 429]  # the visitor's fifth, then its cap
    assert flow.metric("edgesplit_track_rejected_total", reason="visitor_cap") == 1
    assert len(flow.outbox.of_type("conversion")) == 5


@virtual_time
async def test_track_is_rate_limited_per_client_address() -> None:
    flow = limited(TrackLimits(per_client_per_second=0.001, per_client_burst=20))
    statuses = [(await flow.track({"event": "x"}))[0] for _ in range(30)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 10
    assert flow.metric("edgesplit_track_rejected_total", reason="rate_limited") == 10
    status, _ = await flow.track({"event": "x"}, client_ip="203.0.113.9")  # another address is not held
    assert status == 401


@pytest.mark.parametrize(
    "report,status,error",
    [
        ('{"event": "purchase", "value": ' + "9" * 400 + "}", 400, "value: must be a finite number"),
        ("[1, 2]", 400, "body must be a JSON object"),
        (b"\xff\xfe", 400, "body must be a JSON object"),
        ({"event": "x", "unknown": 1}, 400, "unknown field 'unknown'"),
        ({"event": "x"}, 401, "token: a decision token is required"),
        ({"event": "x", "token": "es1.a.b.c"}, 401, None),
        (b"{" + b" " * 17_000 + b"}", 413, "body larger than 16384 bytes"),
    ],
)
def test_bad_reports_are_refused_with_the_reason(report: Any, status: int, error: str | None) -> None:
    flow = make_flow()
    answer, body = run(flow.track(report))
    assert answer == status
    if error is not None:
        assert body["error"] == error
    assert flow.outbox.events == [] and flow.metric("edgesplit_conversions_total") == 0
    assert sum(flow.metrics.counters["edgesplit_track_rejected_total"].values()) == 1


@virtual_time
async def test_only_post_is_taken() -> None:
    flow = make_flow()
    response = await flow.pipeline.handle(request("GET", "http://shop.test/__edgesplit/track"))
    assert response.status == 405


@virtual_time
async def test_an_unknown_field_cannot_become_a_metrics_label() -> None:
    flow = make_flow()
    status, _ = await flow.track('{"event":"x","x\'\\"} 1e99\\nevil":1}')
    assert status == 400
    for n in range(300):
        await flow.track({"event": "x", ("f" * 1000) + str(n): 1})
    reasons = {dict(labels)["reason"] for labels in flow.metrics.counters["edgesplit_track_rejected_total"]}
    assert reasons <= {"unknown field", "rate_limited"}  # 2 series, not 300
    assert "evil" not in flow.metrics.render()
    parser = pytest.importorskip("prometheus_client.parser")  # CPython only: not in the Pyodide run
    families = {family.name for family in parser.text_string_to_metric_families(flow.metrics.render())}
    assert "edgesplit_track_rejected" in families and "evil" not in families  # and the text parses


@virtual_time
async def test_token_rejections_use_a_fixed_vocabulary() -> None:
    flow = make_flow()
    for token in ("garbage\n}", "es1.a.b.c", "x" * 300, ""):
        await flow.track({"event": "x", "token": token})
    await flow.track({"event": "x"})
    reasons = {dict(labels)["reason"] for labels in flow.metrics.counters["edgesplit_tokens_rejected_total"]}
    assert reasons and reasons <= {"malformed", "unsupported_version", "unknown_key", "missing", "other"}


def test_a_replayed_drift_report_counts_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="edgesplit.pipeline")
    flow = make_flow()
    first = signed("drifter-00000002", {"hero": "control"}, age=600)
    report = drift_report("control", "bold", first, signed("drifter-00000002", {"hero": "bold"}))
    statuses = {run(flow.track(report))[0] for _ in range(200)}
    assert statuses == {202}
    assert flow.metric("edgesplit_drift_total", experiment="hero") == 1
    assert len(flow.outbox.of_type("drift")) == 1
    assert flow.metric("edgesplit_conversions_total") == 0  # drift is not a conversion
    assert len([r for r in caplog.records if "drift reported" in r.getMessage()]) == 1


@virtual_time
async def test_an_ofrep_exposure_is_counted_like_a_pages() -> None:
    flow = make_flow()
    token = signed("ofrep-visitor-1", {"hero": "bold"})
    status, body = await flow.track({"type": "exposure", "experiment": "hero", "token": token})
    assert status == 202
    [event] = flow.outbox.of_type("exposure")
    assert event["id"] == body["accepted"] and event["variant"] == "bold"
    [(decision, code, _)] = flow.observer.requests
    assert decision.exposures == (event,) and code == 200
    assert flow.metric("edgesplit_exposures_total") == 1


@virtual_time
async def test_an_outbox_that_cannot_take_events_answers_503_and_counts_nothing() -> None:
    flow = make_flow()
    token = await flow.token("buyer-00000004")
    flow.outbox.fail = OSError("disk full")
    status, body = await flow.track({"event": "purchase", "token": token})
    assert status == 503 and body == {"error": "events cannot be taken right now"}
    assert flow.metric("edgesplit_conversions_total") == 0 and flow.observer.conversions == []
    assert flow.metric("edgesplit_internal_errors_total", stage="outbox") == 1


@virtual_time
async def test_a_failing_observer_does_not_cost_the_report() -> None:
    flow = make_flow()
    token = await flow.token("buyer-00000005")
    flow.observer.fail = RuntimeError("counts down")
    status, _ = await flow.track({"event": "purchase", "token": token})
    assert status == 202 and len(flow.outbox.of_type("conversion")) == 1
    assert flow.metric("edgesplit_internal_errors_total", stage="observer") == 1


@virtual_time
async def test_a_pinned_session_keeps_its_variant_and_its_drift_is_reported() -> None:
    flow = make_flow()
    visitor = "pinned-visitor-01"
    first = await flow.get("/page/home", visitor)
    first_token = set_cookie(first.headers, "edgesplit_decision")
    first_variant = first.assignments["hero"]
    other = "bold" if first_variant == "control" else "control"
    changed = flow.holder.source_document()
    changed["version"] = "flow-2"
    changed["experiments"][0]["variants"] = [
        {"key": first_variant, "weight": 0.0},
        {"key": other, "weight": 1.0},
    ]
    assert flow.holder.offer(changed) is None
    moved = await flow.get("/page/home", visitor)
    assert moved.assignments["hero"] == other  # drift: the config moved this visitor
    drifted_token = set_cookie(moved.headers, "edgesplit_decision")
    pinned = await flow.get(
        "/echo", headers={"cookie": f"edgesplit_id={visitor}; edgesplit_pin={first_token}"}
    )
    assert pinned.assignments["hero"] == first_variant  # pinned for the session
    assert "edgesplit_pin" not in dict(pinned.body["headers"]).get("cookie", "")
    someone_else = await flow.get(
        "/page/home", headers={"cookie": f"edgesplit_id=another-9; edgesplit_pin={first_token}"}
    )
    assert someone_else.assignments["hero"] == other  # a pin only works for its own visitor
    status, _ = await flow.track(drift_report(first_variant, other, first_token, drifted_token))
    assert status == 202
    [event] = flow.outbox.of_type("drift")
    assert event["properties"] == {"experiment": "hero", "expected": first_variant, "observed": other}
