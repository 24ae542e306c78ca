"""Conversions: ``POST {admin prefix}/track`` with a JSON body, checked before anything is kept.

    {"event": "purchase", "value": 42.5, "timestamp": "2026-11-24T10:00:00Z", "id": "order-981",
     "token": "<decision token>"}

- ``token`` (or the ``edgesplit_decision`` cookie, or the decision header) must verify: only
  a visitor edgesplit decided for can report conversions, and only as that visitor;
- ``event``: 1-100 characters of letters, digits, space and ``_ . : $ -``;
- ``value``: optional finite number; ``timestamp``: optional ISO 8601 with a zone, normalised
  to UTC, at most 7 days old and 5 minutes ahead (default: now);
- ``id``: optional client idempotency key (1-128 of ``A-Z a-z 0-9 _ . : -``): a retried
  report with the same id is the same conversion downstream.

Drift reports (from the browser script, ``edgesplit-client.js``) are posted to the same path:

    {"type": "drift", "experiment": "hero", "expected": "control", "observed": "bold",
     "first_token": "<the token the session first saw>", "token": "<the current one>"}

Both tokens must verify and name the same visitor, the first must put the visitor in
``expected`` and the current one in ``observed`` (a different variant), so nobody can report
drift that did not happen. One report per visitor, experiment and first token (idempotency key).

Exposures, from clients that decide through OFREP (an evaluation is not an exposure), are
reported when the visitor really sees the variant: ``{"type": "exposure", "experiment": "hero",
"token": "<metadata.decisionToken>"}``. The token must put the visitor in the experiment (or
hold it out of it: a holdout exposure); one exposure per token and experiment.

Bad payloads get a 400 naming the problem; a missing or invalid token a 401 with the reason.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core import DecisionClaims, Keyring, verify_token
from ..core.events import exposure_event, idempotency_key, utc_iso
from ..core.holdout import HOLDOUT_VARIANT, holdout_assignments
from ..core.manifest import ManifestLookup

__all__ = ["TrackError", "parse_track", "MAX_TRACK_BODY"]

MAX_TRACK_BODY = 16 * 1024
MAX_AGE_SECONDS = 7 * 86_400
MAX_FUTURE_SECONDS = 300
_EVENT = re.compile(r"[A-Za-z0-9 _.:$-]{1,100}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_FIELDS = {"type", "event", "value", "timestamp", "id", "token"}
_DRIFT_FIELDS = {"type", "experiment", "expected", "observed", "first_token", "token"}
_EXPOSURE_FIELDS = {"type", "experiment", "token"}
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


@dataclass(frozen=True, slots=True)
class TrackError:
    status: int
    reason: str


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float (400 digits)
        return False


def _timestamp(value: Any, now: float) -> float | TrackError:
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > 64:
        return TrackError(400, "timestamp: must be an ISO 8601 string with a time zone")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return TrackError(400, f"timestamp: not ISO 8601: {value!r}")
    if moment.tzinfo is None:
        return TrackError(400, "timestamp: needs a time zone (e.g. a trailing Z)")
    epoch = moment.timestamp()
    if epoch > now + MAX_FUTURE_SECONDS:
        return TrackError(400, "timestamp: more than 5 minutes in the future")
    if epoch < now - MAX_AGE_SECONDS:
        return TrackError(400, "timestamp: more than 7 days old")
    return epoch


def _claims(
    token: Any, keyring: Keyring, now: float, field: str, manifests: ManifestLookup | None
) -> DecisionClaims | TrackError:
    if token is None:
        return TrackError(401, f"{field}: a decision token is required")
    verification = verify_token(token, keyring, now, manifests=manifests)
    if not verification.ok or verification.claims is None:
        return TrackError(401, f"{field}: {verification.reason}")
    if not verification.claims.visitor_id:
        return TrackError(401, f"{field}: issued to no visitor (a bot or prefetch)")
    return verification.claims


def parse_track(
    body: bytes,
    fallback_token: str | None,
    keyring: Keyring,
    now: float,
    manifests: ManifestLookup | None = None,
) -> dict[str, Any] | TrackError:
    """A conversion or a drift report, checked (see the module docstring)."""
    if len(body) > MAX_TRACK_BODY:
        return TrackError(413, f"body larger than {MAX_TRACK_BODY} bytes")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return TrackError(400, "body must be a JSON object")
    if not isinstance(payload, dict):
        return TrackError(400, "body must be a JSON object")
    kind = payload.get("type", "conversion")
    if kind not in ("conversion", "drift", "exposure"):
        return TrackError(400, "type: 'conversion' (the default), 'drift' or 'exposure'")
    fields = {"drift": _DRIFT_FIELDS, "exposure": _EXPOSURE_FIELDS}.get(kind, _FIELDS)
    unknown = sorted(set(payload) - fields)
    if unknown:
        return TrackError(400, f"unknown field {unknown[0]!r}")
    parse = {"drift": _drift, "exposure": _exposure}.get(kind, _conversion)
    return parse(payload, fallback_token, keyring, now, manifests)


def _exposure(
    payload: dict[str, Any],
    fallback_token: str | None,
    keyring: Keyring,
    now: float,
    manifests: ManifestLookup | None,
) -> dict[str, Any] | TrackError:
    experiment = payload.get("experiment")
    if not isinstance(experiment, str) or not _KEY.fullmatch(experiment):
        return TrackError(400, "experiment: required, 1-128 letters, digits or _ . : -")
    claims = _claims(payload.get("token", fallback_token), keyring, now, "token", manifests)
    if isinstance(claims, TrackError):
        return claims
    if experiment in claims.holdout:
        variant = HOLDOUT_VARIANT
    elif experiment in claims.assignments and experiment not in claims.held_out:
        variant = claims.assignments[experiment]
    else:
        return TrackError(400, f"not an exposure: the token does not put the visitor in {experiment!r}")
    # One per token: the token's issue time is the dedup window.
    event = exposure_event(
        claims.visitor_id, experiment, variant, claims.config_version, claims.issued_at, 1, utc_iso(now)
    )
    return event | ({"holdout": True} if variant == HOLDOUT_VARIANT else {})


def _drift(
    payload: dict[str, Any],
    fallback_token: str | None,
    keyring: Keyring,
    now: float,
    manifests: ManifestLookup | None,
) -> dict[str, Any] | TrackError:
    names = {}
    for field in ("experiment", "expected", "observed"):
        value = payload.get(field)
        if not isinstance(value, str) or not _KEY.fullmatch(value):
            return TrackError(400, f"{field}: required, 1-128 letters, digits or _ . : -")
        names[field] = value
    experiment, expected, observed = names["experiment"], names["expected"], names["observed"]
    first = _claims(payload.get("first_token"), keyring, now, "first_token", manifests)
    if isinstance(first, TrackError):
        return first
    current = _claims(payload.get("token", fallback_token), keyring, now, "token", manifests)
    if isinstance(current, TrackError):
        return current
    if first.visitor_id != current.visitor_id:
        return TrackError(400, "not drift: the tokens belong to different visitors")
    if first.assignments.get(experiment) != expected or experiment in first.held_out:
        return TrackError(400, f"not drift: first_token does not put the visitor in {expected!r}")
    if (
        current.assignments.get(experiment) != observed
        or expected == observed
        or experiment in current.held_out
    ):
        return TrackError(400, f"not drift: token does not put the visitor in another variant {observed!r}")
    return {
        "type": "drift",
        "event": "edgesplit_drift",
        "id": idempotency_key(
            "drift", first.visitor_id, experiment, expected, observed, str(first.issued_at)
        ),
        "visitor_id": first.visitor_id,
        "value": None,
        "timestamp": utc_iso(now),
        "assignments": {experiment: observed},
        "properties": {"experiment": experiment, "expected": expected, "observed": observed},
        "config_version": current.config_version,
    }


def _conversion(
    payload: dict[str, Any],
    fallback_token: str | None,
    keyring: Keyring,
    now: float,
    manifests: ManifestLookup | None,
) -> dict[str, Any] | TrackError:
    name = payload.get("event")
    if not isinstance(name, str) or not _EVENT.fullmatch(name):
        return TrackError(400, "event: required, 1-100 letters, digits, space or _ . : $ -")
    value = payload.get("value")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value)
    ):
        return TrackError(400, "value: must be a finite number")
    client_id = payload.get("id")
    if client_id is not None and (not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id)):
        return TrackError(400, "id: 1-128 letters, digits or _ . : -")
    when = _timestamp(payload.get("timestamp"), now)
    if isinstance(when, TrackError):
        return when
    claims = _claims(payload.get("token", fallback_token), keyring, now, "token", manifests)
    if isinstance(claims, TrackError):
        return claims
    timestamp = utc_iso(when)
    key = (
        idempotency_key("conversion", claims.visitor_id, client_id)
        if client_id
        else idempotency_key("conversion", claims.visitor_id, name, timestamp)
    )
    return {
        "type": "conversion",
        "id": key,
        "visitor_id": claims.visitor_id,
        "event": name,
        "value": value,
        "timestamp": timestamp,
        "assignments": {k: v for k, v in claims.assignments.items() if k not in claims.held_out}
        | holdout_assignments(claims.holdout),
        "config_version": claims.config_version,
        **({"holdout": True} if claims.holdout else {}),
    }
