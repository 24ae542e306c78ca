"""An outbox that keeps events in a list: for tests, and for a proxy run without any vendor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["MemoryOutbox"]


class MemoryOutbox:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def submit(self, events: Sequence[dict[str, Any]]) -> None:
        self.events.extend(events)
