"""What one visitor may do to the conversion counts: each conversion once, and not too many.

- **Once.** A conversion is identified by ``(visitor, id)`` (or ``(visitor, event, timestamp)``
  without an id: the idempotency key ``track.parse_track`` already computes). A repeat is
  answered ``202`` with ``"duplicate": true`` (a retrying client is told it worked) and is not
  submitted, counted or shown again. Drift reports are deduplicated the same way.
- **Caps.** Per visitor (a rolling day) and per decision token, accepted reports are capped;
  beyond a cap, ``429``. Per client address, a token bucket limits the request rate before the
  body is even read. All excess is counted in ``edgesplit_track_rejected_total``.

Everything is in memory, per process (self-hosted) or per isolate (Worker), and bounded: the
caps bound what a visitor can do even when its reports reach several isolates. The guardrail
counts go further and count each visitor at most once per experiment (``UniqueConverters``).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..core.decision_token import REJECTION_REASONS
from ..core.recent import BoundedSet

__all__ = [
    "TrackLimits",
    "TrackGuard",
    "BoundedSet",
    "TRACK_REJECT_REASONS",
    "report_token",
    "token_reason_label",
    "track_reason_label",
]


@dataclass(frozen=True, slots=True)
class TrackLimits:
    """Defaults no honest shop reaches; ``0`` turns a limit off."""

    per_visitor_per_day: int = 100
    """Accepted conversions and drift reports per visitor in a rolling 24 hours."""
    per_token: int = 50
    """Accepted reports per decision token (a token lives as long as the decision cookie)."""
    per_client_per_second: float = 20.0
    """Sustained /track requests per client address (token bucket refill rate)."""
    per_client_burst: int = 200
    """Requests a client address may send at once before the rate applies."""
    remember: int = 200_000
    """Conversion ids, visitors, tokens and addresses kept in memory (least recent dropped)."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> TrackLimits:
        """From ``{"per_visitor_per_day": 100, ...}`` (the Worker's ``EDGESPLIT_TRACK_LIMITS``)."""
        defaults = cls()
        known = {name: getattr(defaults, name) for name in cls.__slots__}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"track limits: unknown field {unknown[0]!r}")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"track limits: {name} must be a number >= 0")
        return cls(**{**known, **values})


TRACK_REJECT_REASONS = frozenset(
    {
        "body",
        "type",
        "unknown field",
        "event",
        "value",
        "id",
        "timestamp",
        "token",
        "first_token",
        "experiment",
        "expected",
        "observed",
        "not drift",
        "method",
        "rate_limited",
        "visitor_cap",
        "token_cap",
    }
)


def track_reason_label(reason: str) -> str:
    """A metrics label for a refusal: the reason's fixed prefix, never text the client chose."""
    prefix = reason.split(":", 1)[0]
    if prefix.startswith("unknown field"):
        return "unknown field"
    if prefix.startswith("body"):
        return "body"
    return prefix if prefix in TRACK_REJECT_REASONS else "other"


class _Counters:
    """Counts per key in a window of ``span`` seconds (a fixed window per key), bounded."""

    def __init__(self, size: int, span: float) -> None:
        self.size = size
        self.span = span
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def count(self, key: str, now: float) -> int:
        started, n = self._counts.get(key, (now, 0))
        return 0 if now - started >= self.span else n

    def bump(self, key: str, now: float) -> None:
        started, n = self._counts.pop(key, (now, 0))
        if now - started >= self.span:
            started, n = now, 0
        self._counts[key] = (started, n + 1)
        if len(self._counts) > self.size:
            self._counts.popitem(last=False)


class _Buckets:
    """A token bucket per client address."""

    def __init__(self, size: int, rate: float, burst: int) -> None:
        self.size = size
        self.rate = rate
        self.burst = burst
        self._tokens: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float) -> bool:
        level, at = self._tokens.pop(key, (float(self.burst), now))
        level = min(float(self.burst), level + max(0.0, now - at) * self.rate)
        allowed = level >= 1.0
        self._tokens[key] = (level - 1.0 if allowed else level, now)
        if len(self._tokens) > self.size:
            self._tokens.popitem(last=False)
        return allowed


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:32]


class TrackGuard:
    def __init__(self, limits: TrackLimits | None = None) -> None:
        self.limits = limits or TrackLimits()
        size = self.limits.remember
        self._seen = BoundedSet(size)
        self._visitors = _Counters(size, 86_400.0)
        self._tokens = _Counters(size, float("inf"))
        self._clients = _Buckets(size, self.limits.per_client_per_second, self.limits.per_client_burst)

    def admit_client(self, client: str | None, now: float) -> bool:
        """Before the body is read: is this address within its request rate?"""
        if not self.limits.per_client_per_second:
            return True
        return self._clients.take(client or "unknown", now)

    def admit(self, event: dict[str, Any], token: str | None, now: float) -> str | None:
        """``None`` to accept (and remember) ``event``; else ``duplicate``, ``visitor_cap`` or
        ``token_cap``."""
        if event["id"] in self._seen:
            self._seen.add(event["id"])
            return "duplicate"
        visitor = event["visitor_id"]
        per_visitor, per_token = self.limits.per_visitor_per_day, self.limits.per_token
        if per_visitor and self._visitors.count(visitor, now) >= per_visitor:
            return "visitor_cap"
        token_key = _token_key(token) if token else None
        if per_token and token_key is not None and self._tokens.count(token_key, now) >= per_token:
            return "token_cap"
        self._seen.add(event["id"])
        self._visitors.bump(visitor, now)
        if token_key is not None:
            self._tokens.bump(token_key, now)
        return None


def token_reason_label(reason: str) -> str:
    """``malformed``, ``expired``... for ``edgesplit_tokens_rejected_total``: a fixed vocabulary."""
    detail = reason.rsplit(": ", 1)[-1]
    if detail in REJECTION_REASONS:
        return detail
    if "required" in detail:
        return "missing"
    if "no visitor" in detail:
        return "no_visitor"
    return "other"


def report_token(body: bytes, fallback: str | None) -> str | None:
    """The token a (valid, already parsed once) report was checked with, for the per-token cap."""
    try:
        token = json.loads(body).get("token", fallback)
    except (ValueError, AttributeError, RecursionError):
        return fallback
    return token if isinstance(token, str) else fallback
