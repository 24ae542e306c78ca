"""Vendor adapters (pure formatting within each vendor's limits) and delivery outcomes."""

from .adapters import PostHogAdapter, SegmentAdapter, WebhookAdapter, adapters_from_settings, make_adapter
from .base import Outcome, SendResult, VendorRequest, classify, retry_after_seconds, split_batches

__all__ = [
    "Outcome",
    "PostHogAdapter",
    "SegmentAdapter",
    "SendResult",
    "VendorRequest",
    "WebhookAdapter",
    "adapters_from_settings",
    "classify",
    "make_adapter",
    "retry_after_seconds",
    "split_batches",
]
