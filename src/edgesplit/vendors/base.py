"""Vendor adapters: how a batch of edgesplit events becomes a vendor's ingestion request.

Pure: an adapter formats and splits, it does no I/O. A sender (aiohttp in the self-hosted
proxy, the runtime's fetch at the edge) delivers the ``VendorRequest`` and reports back a
``SendResult``; ``classify`` turns that into what the queue does next.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

ENVELOPE_SLACK = 64
"""Bytes kept free in each batch for envelope fields that grow with content."""

__all__ = [
    "Outcome",
    "SendResult",
    "VendorAdapter",
    "VendorRequest",
    "classify",
    "split_batches",
    "retry_after_seconds",
]


@dataclass(frozen=True, slots=True)
class VendorRequest:
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    event_ids: tuple[str, ...]
    """The edgesplit event ids this request carries (all acknowledged or retried together)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int | None
    """HTTP status, or None when no response arrived (network error, timeout)."""
    retry_after: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    """``delivered``, ``retry`` (network, timeout, 408, 429, 5xx) or ``dead`` (other 4xx)."""
    reason: str = ""
    retry_after: float | None = None


def classify(result: SendResult) -> Outcome:
    if result.status is None:
        return Outcome("retry", result.error or "no response")
    if 200 <= result.status < 300:
        return Outcome("delivered")
    if result.status in (408, 429) or result.status >= 500:
        return Outcome("retry", f"HTTP {result.status}", result.retry_after)
    return Outcome("dead", f"HTTP {result.status}: {result.error}"[:500])


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86_400))
    try:
        return max(0.0, min(parsedate_to_datetime(value).timestamp() - now, 86_400.0))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class VendorAdapter(Protocol):
    name: str
    max_batch_events: int
    max_batch_bytes: int
    max_event_bytes: int

    def encode_event(self, event: dict[str, Any]) -> dict[str, Any]: ...

    def request(self, encoded: Sequence[dict[str, Any]], event_ids: Sequence[str]) -> VendorRequest: ...


@dataclass
class Split:
    requests: list[VendorRequest] = field(default_factory=list)
    too_large: list[tuple[str, str]] = field(default_factory=list)
    """(event id, reason) for single events above the vendor's per-event limit."""


def split_batches(adapter: VendorAdapter, events: Sequence[dict[str, Any]]) -> Split:
    """Vendor requests within the adapter's event-count and byte limits, in event order."""
    split = Split()
    batch: list[dict[str, Any]] = []
    ids: list[str] = []
    size = 0
    # The empty envelope, plus room for per-batch fields that grow with content (the webhook's
    # sent_at timestamp): a batch's encoded size never exceeds the limit.
    envelope = len(adapter.request([], []).body) + ENVELOPE_SLACK
    for event in events:
        encoded = adapter.encode_event(event)
        encoded_size = len(json.dumps(encoded, separators=(",", ":")).encode("utf-8")) + 1
        if encoded_size > adapter.max_event_bytes:
            split.too_large.append(
                (
                    str(event["id"]),
                    f"event is {encoded_size} bytes; {adapter.name} accepts "
                    f"at most {adapter.max_event_bytes}",
                )
            )
            continue
        if batch and (
            len(batch) >= adapter.max_batch_events or envelope + size + encoded_size > adapter.max_batch_bytes
        ):
            split.requests.append(adapter.request(batch, ids))
            batch, ids, size = [], [], 0
        batch.append(encoded)
        ids.append(str(event["id"]))
        size += encoded_size
    if batch:
        split.requests.append(adapter.request(batch, ids))
    return split
