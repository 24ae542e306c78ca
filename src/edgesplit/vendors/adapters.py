"""The vendors edgesplit delivers to, each within its documented ingestion limits.

- ``webhook``: edgesplit's own batch format for any HTTP endpoint (documented in docs/events.md):
  ``POST {"batch": [event, ...], "sent_at": ...}`` with an optional auth header and an
  ``Idempotency-Key`` header over the batch's event ids.
- ``posthog``: PostHog's batch capture API (``POST /batch/``), ``$feature_flag_called``
  exposures and named conversion events, ``uuid`` set to the idempotency key (PostHog
  deduplicates on it). Requests are kept under 20 MB, events under 1 MB.
- ``segment``: Segment's HTTP Tracking API batch endpoint (``POST /v1/batch``, Basic auth with
  the write key), ``Experiment Viewed`` and conversion ``track`` calls, ``messageId`` set to the
  idempotency key (Segment deduplicates on it). Batches stay under 500 KB and events under 32 KB.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .base import VendorRequest

__all__ = ["PostHogAdapter", "SegmentAdapter", "WebhookAdapter", "adapters_from_settings", "make_adapter"]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _batch_key(event_ids: Sequence[str]) -> str:
    return hashlib.blake2s("\n".join(event_ids).encode(), digest_size=16).hexdigest()


@dataclass
class WebhookAdapter:
    url: str
    auth_header: str | None = None
    auth_value: str | None = None
    name: str = "webhook"
    max_batch_events: int = 500
    max_batch_bytes: int = 1_000_000
    max_event_bytes: int = 64_000

    def encode_event(self, event: dict[str, Any]) -> dict[str, Any]:
        return event

    def request(self, encoded: Sequence[dict[str, Any]], event_ids: Sequence[str]) -> VendorRequest:
        headers = [("content-type", "application/json"), ("idempotency-key", _batch_key(event_ids))]
        if self.auth_header and self.auth_value:
            headers.append((self.auth_header, self.auth_value))
        sent_at = encoded[-1].get("timestamp", "") if encoded else ""
        return VendorRequest(
            self.url, tuple(headers), _json({"batch": list(encoded), "sent_at": sent_at}), tuple(event_ids)
        )


@dataclass
class PostHogAdapter:
    api_key: str
    host: str = "https://us.i.posthog.com"
    name: str = "posthog"
    max_batch_events: int = 1000
    max_batch_bytes: int = 20 * 1024 * 1024 - 1024
    max_event_bytes: int = 1024 * 1024

    def encode_event(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["type"] == "exposure":
            properties = {
                "$feature_flag": event["experiment"],
                "$feature_flag_response": event["variant"],
                "config_version": event.get("config_version"),
            }
            name = "$feature_flag_called"
        else:
            properties = {
                "value": event.get("value"),
                "config_version": event.get("config_version"),
                **{f"$feature/{k}": v for k, v in event.get("assignments", {}).items()},
                **event.get("properties", {}),
            }
            name = event["event"]
        return {
            "event": name,
            "distinct_id": event["visitor_id"],
            "uuid": _uuid(event["id"]),
            "timestamp": event["timestamp"],
            "properties": properties,
        }

    def request(self, encoded: Sequence[dict[str, Any]], event_ids: Sequence[str]) -> VendorRequest:
        return VendorRequest(
            f"{self.host.rstrip('/')}/batch/",
            (("content-type", "application/json"),),
            _json({"api_key": self.api_key, "historical_migration": False, "batch": list(encoded)}),
            tuple(event_ids),
        )


@dataclass
class SegmentAdapter:
    write_key: str
    host: str = "https://api.segment.io"
    name: str = "segment"
    max_batch_events: int = 2500
    max_batch_bytes: int = 500 * 1000
    max_event_bytes: int = 32 * 1000

    def encode_event(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["type"] == "exposure":
            name = "Experiment Viewed"
            properties = {
                "experiment_id": event["experiment"],
                "variation_id": event["variant"],
                "config_version": event.get("config_version"),
            }
        else:
            name = event["event"]
            properties = {
                "value": event.get("value"),
                "config_version": event.get("config_version"),
                "experiments": event.get("assignments", {}),
                **event.get("properties", {}),
            }
        return {
            "type": "track",
            "event": name,
            "anonymousId": event["visitor_id"],
            "messageId": event["id"],
            "timestamp": event["timestamp"],
            "properties": properties,
        }

    def request(self, encoded: Sequence[dict[str, Any]], event_ids: Sequence[str]) -> VendorRequest:
        token = base64.b64encode(f"{self.write_key}:".encode()).decode()
        return VendorRequest(
            f"{self.host.rstrip('/')}/v1/batch",
            (("content-type", "application/json"), ("authorization", f"Basic {token}")),
            _json({"batch": list(encoded)}),
            tuple(event_ids),
        )


def _uuid(event_id: str) -> str:
    """A UUID-shaped spelling of a 32-hex idempotency key (PostHog wants a UUID)."""
    text = (
        (event_id + "0" * 32)[:32]
        if all(c in "0123456789abcdef" for c in event_id)
        else hashlib.blake2s(event_id.encode(), digest_size=16).hexdigest()
    )
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


def make_adapter(spec: dict[str, Any]) -> Any:
    """An adapter from a vendor spec: ``{"name", "kind": "webhook"|"posthog"|"segment", ...}``."""
    kind = spec.get("kind", "webhook")
    name = spec.get("name", kind)
    if kind == "webhook":
        return WebhookAdapter(spec["url"], spec.get("auth_header"), spec.get("auth_value"), name=name)
    if kind == "posthog":
        return PostHogAdapter(spec["api_key"], spec.get("host", PostHogAdapter.host), name=name)
    if kind == "segment":
        return SegmentAdapter(spec["write_key"], spec.get("host", SegmentAdapter.host), name=name)
    raise ValueError(f"unknown vendor kind {kind!r}")


def adapters_from_settings(vendors_json: str | None, webhook_url: str | None) -> dict[str, Any]:
    """Adapters by name from a JSON list of vendor specs and/or one webhook URL (``default``)."""
    specs: list[dict[str, Any]] = json.loads(vendors_json) if vendors_json else []
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise ValueError("vendors must be a JSON list of objects")
    if webhook_url:
        specs.append({"name": "default", "kind": "webhook", "url": webhook_url})
    return {spec.get("name", spec.get("kind", "webhook")): make_adapter(spec) for spec in specs}
