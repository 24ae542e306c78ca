"""The self-hosted proxy's guardrail and bandit updater: a periodic task that flushes the
request counts to SQLite, plans updates, and writes them into the config file (atomically), so
the running proxy and any other reading the same file apply them within a reload interval."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from pathlib import Path
from typing import Any

from ..atomic_files import write_text_atomically
from ..core import ConfigError, ConfigHolder
from ..guardrails.counts import CountsStore
from ..guardrails.recorder import CountsRecorder
from ..guardrails.updater import PreparedUpdate, Update, prepare_update, record_update
from ..pipeline import Clock, Metrics
from ..sqlite_sql import SqliteSql

__all__ = ["GuardrailRunner"]

log = logging.getLogger("edgesplit.guardrails")


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
        self.lease: Any = None
        """With several worker processes (``proxy/leases.UpdaterLease``): ``acquire(now) -> bool``;
        every worker flushes its counts, only the holder plans and applies the update."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:
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
        if self.lease is not None and not await asyncio.to_thread(self.locked, self.lease.acquire, now):
            self.metrics.inc("edgesplit_guardrail_updates_skipped_total", reason="another_worker")
            return Update()
        try:
            prepared = await asyncio.to_thread(
                self.locked, prepare_update, self._document_text(), self.counts, now, self.rng
            )
        except ConfigError as exc:
            log.error("guardrail update skipped: the config document is invalid: %s", exc)
            return Update()
        update = prepared.update
        for key, verdict in update.verdicts.items():
            self.metrics.set_gauge("edgesplit_srm_p_value", verdict.srm_p, experiment=key)
        if prepared.refused is not None:  # never write what would be refused
            self.metrics.inc("edgesplit_guardrail_updates_refused_total")
            log.error("guardrail update refused by validation, not applied: %s", prepared.refused)
        elif prepared.text is not None:
            self._apply(prepared)
        return update

    def _apply(self, prepared: PreparedUpdate) -> None:
        assert prepared.text is not None
        update = prepared.update
        error = self.holder.offer(prepared.text)
        if error is not None:  # validated already; a holder refusing it is a bug worth the log
            log.error("guardrail update refused by the running config, not applied: %s", error)
            return
        if self.config_path:
            write_text_atomically(self.config_path, prepared.text)
        self.locked(record_update, self.counts, update, self.clock.now())
        for key, record in update.pauses.items():
            self.metrics.inc("edgesplit_guardrail_pauses_total", experiment=key)
            log.warning("paused experiment %r: %s", key, record["reason"])
        for key, weights in update.weights.items():
            log.info("bandit %r weights now %s", key, [round(w, 3) for w in weights])

    def _document_text(self) -> str:
        if self.config_path:
            return Path(self.config_path).read_text(encoding="utf-8")
        return json.dumps(self.holder.source_document())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        rows = self.recorder.drain(self.clock.now())
        if rows:
            self.locked(self.counts.add, rows)
        self.locked(self.sql.close)  # a cancelled tick's worker thread may still be using it
