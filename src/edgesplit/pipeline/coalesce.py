"""Simultaneous cache misses for one variant page: the first request fetches, the others wait.

When a hot page expires, every request for it misses at once (a stampede). The first miss for
a key leads: it goes to the origin and its copy is stored. Later misses for the same key
follow: they wait, up to ``wait_seconds``, until the leader's copy is stored (or it is clear
none will be), then look the cache up again. One coalescer serves a whole process, or a whole
isolate at the edge, so requests handled by different pipelines meet in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..ports import Clock

__all__ = ["COALESCE_WAIT_SECONDS", "MissCoalescer"]

COALESCE_WAIT_SECONDS = 5.0
"""How long a miss waits for another request already fetching the same page."""


class MissCoalescer:
    def __init__(self, clock: Clock, wait_seconds: float = COALESCE_WAIT_SECONDS) -> None:
        self.clock = clock
        self.wait_seconds = wait_seconds
        self._inflight: dict[str, tuple[asyncio.Event, float]] = {}

    def __len__(self) -> int:
        """Keys being fetched right now."""
        return len(self._inflight)

    def __contains__(self, key: str) -> bool:
        return key in self._inflight

    async def follow(self, key: str) -> bool:
        """Wait for the leader of ``key``, if there is one. True when it finished in time (the
        cache may now hold its copy); False when nobody leads or the wait ran out."""
        inflight = self._inflight.get(key)
        if inflight is None:
            return False
        done, started = inflight
        remaining = self.wait_seconds - (self.clock.monotonic() - started)
        if remaining <= 0:  # a leader that never finished
            self._inflight.pop(key, None)
            return False
        try:
            await asyncio.wait_for(done.wait(), remaining)
        except TimeoutError:
            return False
        return True

    def lead(self, key: str) -> Callable[[], None]:
        """Register the caller as the one fetching ``key``. The returned function releases the
        followers; call it once the copy is stored or as soon as it is clear there will be none
        (calling it again does nothing)."""
        done = asyncio.Event()
        entry = (done, self.clock.monotonic())
        self._inflight[key] = entry

        def release() -> None:
            if self._inflight.get(key) is entry:
                del self._inflight[key]
            done.set()

        return release
