"""An outbox that keeps the most recent events in memory: for tests, and for a proxy run
without any vendor, where it is the only place events go. It is bounded: past ``limit`` the
oldest events are dropped and counted, so a proxy without a vendor never grows without end."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from ..pipeline import Metrics

__all__ = ["MEMORY_OUTBOX_LIMIT", "MemoryOutbox"]

MEMORY_OUTBOX_LIMIT = 10_000


class MemoryOutbox:
    def __init__(self, limit: int = MEMORY_OUTBOX_LIMIT, metrics: Metrics | None = None) -> None:
        self._recent: deque[dict[str, Any]] = deque(maxlen=limit)
        self.dropped = 0
        self.metrics = metrics

    @property
    def events(self) -> list[dict[str, Any]]:
        """The kept events, oldest first (a copy)."""
        return list(self._recent)

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        overflow = max(0, len(self._recent) + len(events) - (self._recent.maxlen or 0))
        self._recent.extend(events)
        if overflow:
            self.dropped += overflow
            if self.metrics is not None:
                self.metrics.inc(
                    "edgesplit_events_dropped_total", overflow, vendor="none", reason="no_vendor"
                )
