"""The proxy's side of the shared state: flushes its counts (batched, bounded, resent after a
failure without double counting), reports its queue depth, applies the published config
document within a poll interval, and, when it holds the lease, runs the one update step
(``prepare_update``) on the cluster's numbers and commits it in one piece, fenced.

Nothing here is on the request path: requests only touch the in-memory recorder, so a down or
slow store never makes a request wait."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic_files import write_text_atomically
from ..core import ConfigError, ConfigHolder
from ..guardrails.recorder import CountsRecorder
from ..guardrails.updater import PreparedUpdate, Update, prepare_update, record_update
from ..ports import Clock
from ..ports.metrics import Metrics
from .port import Changes, ClusterCounts, CountBatch, StatePort, StateUnavailable
from .snapshot import Snapshot

__all__ = ["FORGET_AFTER", "SharedGuardrailRunner", "new_proxy_id"]

log = logging.getLogger("edgesplit.state")

FORGET_AFTER = 60.0
"""Seconds after which a silent proxy no longer holds updates back, nor shows on the status page."""


def new_proxy_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random.getrandbits(24):06x}"


class SharedGuardrailRunner:
    def __init__(
        self,
        state: StatePort,
        holder: ConfigHolder,
        config_path: str | None,
        clock: Clock,
        metrics: Metrics,
        *,
        interval: float = 10.0,
        poll_interval: float = 1.0,
        forget_after: float = FORGET_AFTER,
        max_batch_rows: int = 10_000,
        queue_stats: Callable[[], dict[str, dict[str, Any]]] | None = None,
        proxy_id: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.holder = holder
        self.config_path = config_path
        self.clock = clock
        self.metrics = metrics
        self.interval = interval
        """At most one update per interval in the whole cluster (the lease's time to live)."""
        self.poll_interval = poll_interval
        """Counts flushed, report written and the published document checked this often."""
        self.forget_after = forget_after
        """A proxy silent this long no longer holds updates back (its late counts still count)."""
        self.max_batch_rows = max_batch_rows
        self.report_ttl = max(3 * poll_interval, 3.0)
        """A report older than this means the proxy is cut off: no update until it is back or
        forgotten. Its counts since its last flush (one poll interval) may be missing before that."""
        self.queue_stats = queue_stats
        self.proxy = proxy_id or new_proxy_id()
        self.rng = rng or random.Random()
        self.recorder = CountsRecorder()
        self.applied_version = 0
        self.dropped_rows = 0
        self._seq = 0
        self._unsent: CountBatch | None = None
        self._flush_lock = asyncio.Lock()
        self._next_update = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._next_update = self.clock.now() + self.interval
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("shared state step failed; trying again")
            await asyncio.sleep(self.poll_interval)

    async def step(self) -> None:
        now = self.clock.now()
        await self.flush(now)
        await self._guarded("report", self._report(now))
        await self._guarded("config", self.poll_config())
        if now >= self._next_update:
            self._next_update = now + self.interval
            await self.tick()

    async def _guarded(self, step: str, work: Any) -> bool:
        try:
            await work
        except StateUnavailable as exc:
            self.metrics.inc("edgesplit_state_unavailable_total", step=step)
            log.warning("shared state unavailable (%s): %s", step, exc)
            return False
        return True

    @property
    def behind(self) -> bool:
        """Counts this proxy drained could not be stored yet."""
        return self._unsent is not None

    async def flush(self, now: float) -> bool:
        """Store what the recorder collected; True when nothing of this proxy's is waiting."""
        async with self._flush_lock:
            for _ in range(2):  # a batch kept from a failed flush first, then what came since
                if self._unsent is None:
                    rows = self.recorder.drain(now)
                    if not rows:
                        return True
                    if len(rows) > self.max_batch_rows:
                        dropped = len(rows) - self.max_batch_rows
                        self.dropped_rows += dropped
                        self.metrics.inc("edgesplit_state_count_rows_dropped_total", dropped)
                        rows = rows[: self.max_batch_rows]
                    self._seq += 1
                    self._unsent = CountBatch(self.proxy, self._seq, rows)
                if not await self._guarded("counts", self.state.add_counts(self._unsent)):
                    return False  # kept: sent again, same seq, next time; newer counts wait in the recorder
                self._unsent = None
            return True

    async def _report(self, now: float) -> None:
        queue = await asyncio.to_thread(self.queue_stats) if self.queue_stats is not None else None
        report = {
            "at": now,
            "behind": self.behind,
            "buffered_rows": len(self._unsent.rows) if self._unsent is not None else 0,
            "dropped_rows": self.dropped_rows,
            "config_version": self.applied_version,
            "queue": queue,
        }
        await self.state.report(self.proxy, report, now, self.report_ttl)

    async def poll_config(self) -> None:
        """Apply the published document if it changed; publish ours if there is none yet."""
        version = await self.state.config_version()
        if version == 0:
            await self.state.seed_config(json.dumps(self.holder.source_document(), indent=2) + "\n")
            version = await self.state.config_version()
        if version == self.applied_version:
            return
        published = await self.state.config()
        if published is None:
            return
        version, text = published
        error = self.holder.offer(text)
        self.applied_version = version
        if error is not None:  # every writer validates first; the running config stays
            self.metrics.inc("edgesplit_config_refused_total")
            log.error("published config version %d refused, the running config stays: %s", version, error)
            return
        self.metrics.set_gauge("edgesplit_shared_config_version", version)
        if self.config_path:  # this proxy's last-known-good copy, used if it starts without the store
            path = Path(self.config_path)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                await asyncio.to_thread(write_text_atomically, path, text)

    async def tick(self) -> Update:
        """One update attempt: only the lease holder acts, only on complete numbers."""
        try:
            return await self._update(self.clock.now())
        except StateUnavailable as exc:
            self.metrics.inc("edgesplit_state_unavailable_total", step="update")
            log.warning("guardrail update skipped, shared state unavailable: %s", exc)
            return Update()

    def _skip(self, reason: str) -> Update:
        self.metrics.inc("edgesplit_guardrail_updates_skipped_total", reason=reason)
        return Update()

    async def _update(self, now: float) -> Update:
        if not await self.flush(now):
            return self._skip("own_counts_unflushed")
        lease = await self.state.acquire_lease(self.proxy, self.interval)
        if lease is None:
            return Update()  # another proxy acts this interval
        reports = await self.state.reports(now, self.forget_after)
        incomplete = sorted(
            p for p, r in reports.items() if p != self.proxy and (r is None or r.get("behind"))
        )
        if incomplete:
            log.info("guardrail update skipped: counts of %s are not in yet", ", ".join(incomplete))
            return self._skip("partial_counts")
        published = await self.state.config()
        if published is None:
            return self._skip("no_published_config")
        version, text = published
        try:
            keys = [experiment.key for experiment in self.holder.current.experiments]
            counts = await self.state.read(keys, now)
            prepared, changes = await asyncio.to_thread(self._plan, counts, text, now)
        except ConfigError as exc:
            log.error("guardrail update skipped: the published config is invalid: %s", exc)
            return self._skip("invalid_config")
        update = prepared.update
        for key, verdict in update.verdicts.items():
            self.metrics.set_gauge("edgesplit_srm_p_value", verdict.srm_p, experiment=key)
        if prepared.refused is not None:
            self.metrics.inc("edgesplit_guardrail_updates_refused_total")
            log.error("guardrail update refused by validation, not applied: %s", prepared.refused)
        if not await self.state.commit(lease, changes, prepared.text, version):
            return self._skip("fenced")  # the lease moved on or the document changed meanwhile
        self.metrics.inc("edgesplit_guardrail_updates_total")
        if prepared.text is None:
            return Update(verdicts=update.verdicts)
        for key, record in update.pauses.items():
            self.metrics.inc("edgesplit_guardrail_pauses_total", experiment=key)
            log.warning("paused experiment %r: %s", key, record["reason"])
        for key, weights in update.weights.items():
            log.info("bandit %r weights now %s", key, [round(w, 3) for w in weights])
        await self._guarded("config", self.poll_config())
        return update

    def _plan(self, counts: ClusterCounts, text: str, now: float) -> tuple[PreparedUpdate, Changes]:
        """The shared update step on the cluster's numbers, in a worker thread (which owns the
        in-memory snapshot from start to end, even if the pass is cancelled meanwhile)."""
        snapshot = Snapshot(counts)
        try:
            prepared = prepare_update(text, snapshot.store, now, self.rng)
            if prepared.text is not None:
                record_update(snapshot.store, prepared.update, now)
            return prepared, snapshot.changes()
        finally:
            snapshot.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush(self.clock.now())
        await self._guarded("leave", self.state.leave(self.proxy))
        await self.state.close()
