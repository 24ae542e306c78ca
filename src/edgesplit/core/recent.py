"""Bounded memories of what was seen recently (least recently seen forgotten first): shared by
the track endpoint's guards, the event delivery and the guardrail counts. Pure: no clock."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

__all__ = ["BoundedSet", "ExposureDeduper"]


class BoundedSet:
    """Remembers up to ``size`` keys; the least recently seen go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True when ``key`` is new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


class ExposureDeduper:
    """Remembers recent exposure ids (which embed the dedup window) in a bounded LRU."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[str, None] = OrderedDict()

    def fresh(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for event in events:
            if event.get("type") == "exposure":
                if event["id"] in self._seen:
                    self._seen.move_to_end(event["id"])
                    continue
                self._seen[event["id"]] = None
                if len(self._seen) > self.max_entries:
                    self._seen.popitem(last=False)
            kept.append(event)
        return kept
