"""Picks up config file changes without a restart; a bad file is refused, the old config stays."""

from __future__ import annotations

import asyncio
import logging
import os

from ..core import ConfigHolder
from ..pipeline import Metrics

__all__ = ["ConfigWatcher"]

log = logging.getLogger("edgesplit.config")


class ConfigWatcher:
    def __init__(self, path: str, holder: ConfigHolder, metrics: Metrics, *, interval: float = 1.0) -> None:
        self.path = path
        self.holder = holder
        self.metrics = metrics
        self.interval = interval
        self._seen = self._stamp()
        self._task: asyncio.Task[None] | None = None

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def check(self) -> bool:
        """Reload if the file changed; True when a new config now runs."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        self._seen = stamp
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            log.error(
                "config %s unreadable (%s); still running version %r",
                self.path,
                exc,
                self.holder.current.version,
            )
            return False
        error = self.holder.offer(data)
        if error is not None:
            self.metrics.inc("edgesplit_config_refused_total")
            log.error(
                "config %s refused; still running version %r:\n%s",
                self.path,
                self.holder.current.version,
                error,
            )
            return False
        log.info(
            "config %s reloaded: version %r, %d experiments",
            self.path,
            self.holder.current.version,
            len(self.holder.current.experiments),
        )
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
