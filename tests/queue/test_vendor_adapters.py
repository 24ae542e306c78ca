"""Vendor adapters: formats, limits and delivery outcomes."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.vendors import (
    PostHogAdapter,
    SegmentAdapter,
    SendResult,
    WebhookAdapter,
    classify,
    retry_after_seconds,
    split_batches,
)

EXPOSURE = {
    "id": "0123456789abcdef0123456789abcdef",
    "type": "exposure",
    "visitor_id": "v1",
    "experiment": "hero",
    "variant": "bold",
    "config_version": "c1",
    "timestamp": "2026-11-24T00:00:00.000Z",
}
CONVERSION = {
    "id": "fedcba9876543210fedcba9876543210",
    "type": "conversion",
    "visitor_id": "v1",
    "event": "purchase",
    "value": 3.5,
    "assignments": {"hero": "bold"},
    "config_version": "c1",
    "timestamp": "2026-11-24T00:00:00.000Z",
}


def test_posthog_format() -> None:
    request = split_batches(PostHogAdapter("phc_x", "https://ph.example"), [EXPOSURE, CONVERSION]).requests[0]
    body = json.loads(request.body)
    assert request.url == "https://ph.example/batch/" and body["api_key"] == "phc_x"
    exposure, conversion = body["batch"]
    assert exposure["event"] == "$feature_flag_called" and exposure["distinct_id"] == "v1"
    assert (
        exposure["properties"]["$feature_flag"] == "hero"
        and exposure["properties"]["$feature_flag_response"] == "bold"
    )
    assert exposure["uuid"] == "01234567-89ab-cdef-0123-456789abcdef"
    assert conversion["event"] == "purchase" and conversion["properties"]["$feature/hero"] == "bold"


def test_segment_format() -> None:
    request = split_batches(SegmentAdapter("wk", "https://seg.example"), [EXPOSURE]).requests[0]
    assert request.url == "https://seg.example/v1/batch"
    assert dict(request.headers)["authorization"] == "Basic " + base64.b64encode(b"wk:").decode()
    [call] = json.loads(request.body)["batch"]
    assert call == {
        "type": "track",
        "event": "Experiment Viewed",
        "anonymousId": "v1",
        "messageId": EXPOSURE["id"],
        "timestamp": EXPOSURE["timestamp"],
        "properties": {"experiment_id": "hero", "variation_id": "bold", "config_version": "c1"},
    }


def test_webhook_format_and_auth() -> None:
    request = split_batches(WebhookAdapter("https://hook.example/b", "x-api-key", "k"), [EXPOSURE]).requests[
        0
    ]
    headers = dict(request.headers)
    assert headers["x-api-key"] == "k" and len(headers["idempotency-key"]) == 32
    assert json.loads(request.body)["batch"] == [EXPOSURE]


@given(
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=60),
    max_events=st.integers(1, 10),
    max_bytes=st.integers(2000, 20000),
)
def test_batches_stay_within_the_vendor_limits(sizes: list[int], max_events: int, max_bytes: int) -> None:
    adapter = WebhookAdapter(
        "https://hook.example/b", max_batch_events=max_events, max_batch_bytes=max_bytes, max_event_bytes=2500
    )
    events = [{**EXPOSURE, "id": f"e{n}", "pad": "x" * size} for n, size in enumerate(sizes)]
    split = split_batches(adapter, events)
    sent = [event_id for request in split.requests for event_id in request.event_ids]
    refused = [event_id for event_id, _ in split.too_large]
    assert sorted(sent + refused) == sorted(e["id"] for e in events)  # every event: sent or refused, once
    assert sent == [e["id"] for e in events if e["id"] not in refused]  # order kept
    for request in split.requests:
        assert len(request.event_ids) <= max_events
        assert len(request.body) <= max_bytes or len(request.event_ids) == 1


@pytest.mark.parametrize(
    "status,kind",
    [
        (200, "delivered"),
        (202, "delivered"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
    ],
)
def test_outcomes(status: int | None, kind: str) -> None:
    assert classify(SendResult(status)).kind == kind


def test_retry_after() -> None:
    assert retry_after_seconds("120", 0) == 120.0
    assert retry_after_seconds("Mon, 24 Nov 2025 16:01:00 GMT", 1_764_000_000) == 60.0
    assert retry_after_seconds("soon", 0) is None and retry_after_seconds(None, 0) is None
    assert retry_after_seconds("99999999", 0) == 86_400.0
