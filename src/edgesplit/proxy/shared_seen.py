"""Exposure de-duplication shared by the workers of ``edgesplit serve --workers N``.

A returning visitor's requests reach whichever worker the kernel picks. Each worker keeping its
own memory of recent exposure ids would count the visitor's exposure once per worker in the
guardrail counts and send it to the vendor once per worker. ``SharedSeen`` is the same
``fresh(events)`` as ``queue.delivery.ExposureDeduper``, kept in an anonymous shared memory map
the supervisor creates before forking, so every worker (and every replacement) sees the same
table.

The table is direct-mapped: each exposure id's 64-bit BLAKE2b fingerprint goes to one slot; a
newer id landing on the same slot replaces the older one (as the LRU's eviction would). Slots
are 8-byte aligned words, written and read whole. Not exact under races: two workers handling
the same exposure id at the same instant may both keep it (it is then counted twice and the
vendor keeps it once by its id), as may an id whose slot was taken since.
"""

from __future__ import annotations

import hashlib
import mmap
from collections.abc import Sequence
from typing import Any

from ..core.recent import ExposureDeduper

__all__ = ["SharedSeen"]


class SharedSeen(ExposureDeduper):
    """An ``ExposureDeduper`` (same ``fresh``) whose memory is shared across forked processes."""

    def __init__(self, slots: int = 1 << 20) -> None:  # not super().__init__: no per-process LRU
        if slots < 1 or slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self._memory = mmap.mmap(-1, slots * 8)  # MAP_SHARED | MAP_ANONYMOUS: inherited across fork
        self._table = memoryview(self._memory).cast("Q")
        self._mask = slots - 1

    def fresh(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``events`` without the exposures seen before, by any worker."""
        kept = []
        for event in events:
            if event.get("type") == "exposure":
                digest = hashlib.blake2b(str(event["id"]).encode("utf-8", "surrogatepass"), digest_size=8)
                fingerprint = int.from_bytes(digest.digest(), "little") | 1  # 0 marks an empty slot
                slot = (fingerprint >> 1) & self._mask
                if self._table[slot] == fingerprint:
                    continue
                self._table[slot] = fingerprint
            kept.append(event)
        return kept
