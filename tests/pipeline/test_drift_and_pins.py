"""Drift reports are checked against two signed tokens; session pins keep a running
experiment's first variant and nothing else. (Also runs inside Pyodide.)"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import DecisionClaims, HmacKey, Keyring, assign, parse_config, sign_token
from edgesplit.pipeline.track import TrackError, parse_track

KEYRING = Keyring((HmacKey("k", bytes(range(32))),))
OTHER = Keyring((HmacKey("k", bytes(range(1, 33))),))
NOW = 1_795_000_000.0


def token(
    visitor: str, assignments: dict[str, str], issued: float = NOW, held_out: frozenset[str] = frozenset()
) -> str:
    claims = DecisionClaims(visitor, assignments, "v1", int(issued), int(issued) + 86_400, held_out)
    return sign_token(claims, KEYRING)


def drift(**overrides: Any) -> bytes:
    body = {
        "type": "drift",
        "experiment": "hero",
        "expected": "control",
        "observed": "bold",
        "first_token": token("visitor-1", {"hero": "control"}, NOW - 600),
        "token": token("visitor-1", {"hero": "bold"}),
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def test_a_real_drift_becomes_one_event_with_a_stable_key() -> None:
    event = parse_track(drift(), None, KEYRING, NOW)
    assert not isinstance(event, TrackError)
    assert event["type"] == "drift" and event["visitor_id"] == "visitor-1"
    assert event["properties"] == {"experiment": "hero", "expected": "control", "observed": "bold"}
    again = parse_track(drift(), None, KEYRING, NOW + 5)
    assert (
        not isinstance(again, TrackError) and again["id"] == event["id"]
    )  # a retried report is the same event


def test_the_current_token_may_come_from_the_cookie() -> None:
    current = token("visitor-1", {"hero": "bold"})
    event = parse_track(drift(token=None), current, KEYRING, NOW)
    assert not isinstance(event, TrackError) and event["assignments"] == {"hero": "bold"}


def test_drift_that_did_not_happen_is_refused() -> None:
    cases = {
        "different visitors": drift(token=token("visitor-2", {"hero": "bold"})),
        "same variant": drift(token=token("visitor-1", {"hero": "control"}), observed="control"),
        "wrong expected": drift(expected="bold"),
        "wrong observed": drift(observed="wide"),
        "held out first": drift(
            first_token=token("visitor-1", {"hero": "control"}, held_out=frozenset({"hero"}))
        ),
        "bot token": drift(first_token=token("", {"hero": "control"})),
    }
    for name, body in cases.items():
        result = parse_track(body, None, KEYRING, NOW)
        assert isinstance(result, TrackError) and result.status in (400, 401), name


def test_forged_or_missing_tokens_are_401() -> None:
    forged = sign_token(
        DecisionClaims("visitor-1", {"hero": "control"}, "v1", int(NOW), int(NOW) + 60), OTHER
    )
    for body in (drift(first_token=forged), drift(first_token=None), drift(token="es1.k.e30.AAAA")):
        result = parse_track(body, None, KEYRING, NOW)
        assert isinstance(result, TrackError) and result.status == 401, result


def test_bad_fields_and_types_are_400() -> None:
    for body in (drift(experiment="<x>"), drift(extra=1), drift(type="other"), drift(expected=5)):
        result = parse_track(body, None, KEYRING, NOW)
        assert isinstance(result, TrackError) and result.status == 400, result


@given(
    st.dictionaries(
        st.sampled_from(["type", "experiment", "expected", "observed", "first_token", "token", "x"]),
        st.one_of(st.text(max_size=40), st.integers(), st.none(), st.just("drift")),
    )
)
def test_fuzzed_drift_reports_never_raise(body: dict[str, Any]) -> None:
    result = parse_track(json.dumps(body).encode(), None, KEYRING, NOW)
    assert isinstance(result, TrackError) or result["type"] in ("drift", "conversion")


CONFIG = {
    "schema_version": 1,
    "version": "pins",
    "experiments": [
        {"key": "hero", "variants": [{"key": "control"}, {"key": "bold"}]},
        {"key": "off", "status": "paused", "variants": [{"key": "control"}, {"key": "b"}]},
    ],
}


def test_pins_keep_the_first_variant_only_while_it_runs_and_exists() -> None:
    config = parse_config(CONFIG)
    visitor = next(f"v{n}" for n in range(1000) if assign(config, f"v{n}")["hero"].variant == "bold")
    pinned = assign(config, visitor, None, None, {"hero": "control", "off": "b"})
    assert (
        pinned["hero"].variant == "control"
        and pinned["hero"].reason == "pinned"
        and pinned["hero"].in_experiment
    )
    assert pinned["off"].variant == "control" and pinned["off"].reason == "paused"  # a pause beats a pin
    unknown = assign(config, visitor, None, None, {"hero": "removed-variant"})
    assert unknown["hero"].variant == "bold" and unknown["hero"].reason == "bucketed"
