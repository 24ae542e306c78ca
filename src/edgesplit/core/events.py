"""Event records (exposures, conversions) with idempotency keys. Pure: times are handed in."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

__all__ = ["EXPOSURE_IDS_MAX", "exposure_event", "exposure_id", "idempotency_key", "utc_iso"]

EXPOSURE_IDS_MAX = 8192
EXPOSURE_IDS: dict[tuple[str, str, str, str, int], str] = {}
"""Exposure ids already worked out: a returning visitor's exposures repeat within the window.
Forgotten all at once when full (bounded under hostile input); the id is a pure function of
its key, so an entry can never be stale."""


_last_second: tuple[datetime | None, str] = (None, "")


def utc_iso(epoch_seconds: float) -> str:
    """``1764000000.123`` -> ``"2025-11-24T16:00:00.123Z"`` (milliseconds, always UTC)."""
    global _last_second  # noqa: PLW0603 - every request of one second shares its formatted prefix
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    second = moment.replace(microsecond=0)
    if _last_second[0] != second:
        _last_second = (second, moment.strftime("%Y-%m-%dT%H:%M:%S."))
    return _last_second[1] + f"{moment.microsecond // 1000:03d}Z"


def idempotency_key(*parts: str) -> str:
    """A stable key for one logical event: the same parts always give the same key, so a
    redelivered event is recognisable downstream. 32 hex characters (128 bits)."""
    material = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2s(material, digest_size=16).hexdigest()


def exposure_id(visitor_id: str, experiment: str, variant: str, config_version: str, window: int) -> str:
    """``idempotency_key`` of one exposure, remembered (see ``EXPOSURE_IDS``)."""
    key = (visitor_id, experiment, variant, config_version, window)
    known = EXPOSURE_IDS.get(key)
    if known is None:
        known = idempotency_key("exposure", visitor_id, experiment, variant, config_version, str(window))
        if len(EXPOSURE_IDS) >= EXPOSURE_IDS_MAX:
            EXPOSURE_IDS.clear()
        EXPOSURE_IDS[key] = known
    return known


def exposure_event(
    visitor_id: str,
    experiment: str,
    variant: str,
    config_version: str,
    now: float,
    window_seconds: int,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """One exposure. Its key is the same for every exposure of this visitor to this variant
    within one dedup window, so repeats inside the window collapse downstream. ``timestamp``
    is ``utc_iso(now)`` when the caller has computed it already."""
    window = int(now // window_seconds) if window_seconds > 0 else int(now * 1000)
    return {
        "type": "exposure",
        "id": exposure_id(visitor_id, experiment, variant, config_version, window),
        "visitor_id": visitor_id,
        "experiment": experiment,
        "variant": variant,
        "config_version": config_version,
        "timestamp": timestamp or utc_iso(now),
    }
