"""The self-hosted proxy's guardrail and bandit updater: a periodic task that flushes the
request counts to SQLite, plans updates, and writes them into the config file (atomically), so
the running proxy and any other reading the same file apply them within a reload interval."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..core import ConfigHolder
from ..guardrails.counts import CountsStore
from ..guardrails.recorder import CountsRecorder
from ..guardrails.updater import Update, apply_update, plan_updates, record_update
from ..pipeline import Clock, Metrics
from .queue_runner import SqliteSql

__all__ = ["GuardrailRunner", "write_config_atomically"]

log = logging.getLogger("edgesplit.guardrails")


def write_config_atomically(path: str | Path, document: dict[str, Any]) -> None:
    """Write to a temporary file beside it, fsync, then rename over: readers see old or new."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class GuardrailRunner:
    def __init__(
        self,
        state_dir: str | Path,
        holder: ConfigHolder,
        config_path: str | None,
        clock: Clock,
        metrics: Metrics,
        *,
        interval: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        Path(state_dir).mkdir(parents=True, exist_ok=True)
        self.sql = SqliteSql(Path(state_dir) / "counts.sqlite3")
        self.counts = CountsStore(self.sql)
        self.lock = threading.Lock()
        self.recorder = CountsRecorder()
        self.holder = holder
        self.config_path = config_path
        self.clock = clock
        self.metrics = metrics
        self.interval = interval
        self.rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self.last_update = Update()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - a bad tick must not stop the next one
                log.exception("guardrail update failed; trying again next interval")

    def locked(self, function: Any, *args: Any) -> Any:
        """Call ``function`` holding the counts lock (the SQLite connection is shared)."""
        with self.lock:
            return function(*args)

    async def flush(self, now: float) -> None:
        """Move what the recorder collected into the counts store."""
        rows = self.recorder.drain(now)
        if rows:
            await asyncio.to_thread(self.locked, self.counts.add, rows)

    async def tick(self) -> Update:
        now = self.clock.now()
        await self.flush(now)
        config = self.holder.current
        update = await asyncio.to_thread(self.locked, plan_updates, config, self.counts, now, self.rng)
        self.last_update = update
        for key, verdict in update.verdicts.items():
            self.metrics.set_gauge("edgesplit_srm_p_value", verdict.srm_p, experiment=key)
        if update:
            self._apply(update)
        if int(now) % 3600 < self.interval:
            await asyncio.to_thread(self.locked, self.counts.compact, now)
        return update

    def _apply(self, update: Update) -> None:
        document = self._document()
        new_document = apply_update(document, update)
        error = self.holder.offer(new_document)
        if error is not None:  # never write what would be refused
            log.error("guardrail update refused by validation, not applied: %s", error)
            return
        if self.config_path:
            write_config_atomically(self.config_path, new_document)
        self.locked(record_update, self.counts, update, self.clock.now())
        for key, record in update.pauses.items():
            self.metrics.inc("edgesplit_guardrail_pauses_total", experiment=key)
            log.warning("paused experiment %r: %s", key, record["reason"])
        for key, weights in update.weights.items():
            log.info("bandit %r weights now %s", key, [round(w, 3) for w in weights])

    def _document(self) -> dict[str, Any]:
        if self.config_path:
            with open(self.config_path, encoding="utf-8") as handle:
                return json.load(handle)
        return self.holder.source_document()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        rows = self.recorder.drain(self.clock.now())
        if rows:
            self.locked(self.counts.add, rows)
        self.sql.close()
