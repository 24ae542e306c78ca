"""The self-hosted proxy's clock, ids and background tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from ..system import SystemClock, new_visitor_id

__all__ = ["SystemClock", "TaskBackground", "new_visitor_id"]

log = logging.getLogger("edgesplit.proxy")


class TaskBackground:
    """``defer`` runs work as an asyncio task and keeps a reference until it finishes;
    ``drain`` waits for what is still running (at shutdown)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def defer(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
