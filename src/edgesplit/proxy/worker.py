"""One worker process of ``edgesplit serve --workers N`` (the supervisor is ``proxy/supervisor.py``).

A worker is the single-process proxy (``ProxyService``) with four differences:

- it accepts on the listening socket the supervisor bound (inherited across the fork);
- it drains a queue shard only while holding that shard's lock (``leases.ShardLocks``), and
  every ``SWEEP_INTERVAL`` seconds it looks for shards with pending events that no worker is
  watching (their drainer died), so each shard has one drainer and none is left behind;
- it runs the guardrail update only when it holds the updater lease (``leases.UpdaterLease``);
  every worker flushes its counts into the shared counts database every second, so the updater
  and the status page, whichever worker runs them, see every worker's counts of a second ago;
- its ``/metrics`` answers for the whole machine (``metrics_board``);
- its memory of recent exposure ids (for the guardrail counts and for the vendor) is shared with
  the other workers (``shared_seen``), so a returning visitor is counted once whichever worker
  serves it.

Its in-memory cache, exposure counters and connection limits are its own. SIGHUP re-reads the
config file at once (the supervisor forwards it to every worker); the file is also polled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from ..core import Config, ConfigError, Keyring
from ..pipeline import Metrics
from ..queue.delivery import DeliveryOutbox
from .guardrail_runner import GuardrailRunner
from .leases import ShardLocks, UpdaterLease
from .metrics_board import PUBLISH_INTERVAL, MetricsBoard, SharedMetrics
from .server_limits import LimitedSite
from .service import ProxyOptions, ProxyService, serve_forever
from .shared_seen import SharedSeen
from .supervisor import Supervisor, SupervisorPolicy, WorkerSlot, bind_listener

__all__ = ["METRICS_FILE", "SWEEP_INTERVAL", "WorkerService", "serve_workers"]

log = logging.getLogger("edgesplit.worker")

METRICS_FILE = "worker-metrics.sqlite3"
SWEEP_INTERVAL = 5.0


class WorkerService(ProxyService):
    def __init__(
        self,
        options: ProxyOptions,
        config: Config,
        keyring: Keyring,
        slot: WorkerSlot,
        seen: tuple[SharedSeen, SharedSeen] | None = None,
    ) -> None:
        self.slot = slot
        self.process_id = f"worker-{slot.index}-pid{os.getpid()}"
        self.board = MetricsBoard(Path(options.queue_dir) / METRICS_FILE)
        super().__init__(options, config, keyring)
        self.shard_locks: ShardLocks | None = None
        if self.queue is not None:
            self.shard_locks = ShardLocks(options.queue_dir, options.queue_shards)
            self.queue.shard_lock = self.shard_locks
        if isinstance(self.guardrails, GuardrailRunner):  # --state URL brings its own lease
            self.guardrails.lease = UpdaterLease(
                self.guardrails.sql, self.process_id, options.guardrail_interval
            )
        if seen is not None:  # one memory of recent exposures for all workers: counted and sent once
            self.guardrails.recorder.exposures_seen = seen[0]
            if isinstance(self.outbox, DeliveryOutbox):
                self.outbox.deduper = seen[1]
        self._chores: asyncio.Task[None] | None = None

    def new_metrics(self) -> Metrics:
        return SharedMetrics(self.board, self.process_id)

    def make_site(self, runner: web.BaseRunner) -> web.BaseSite:
        return LimitedSite(
            runner, self.options.host, self.options.port, self.options.server_limits, sock=self.slot.sock
        )

    async def start(self) -> None:
        await super().start()
        await asyncio.to_thread(self.board.retire_dead)
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_now)
        self._chores = asyncio.create_task(self._run_chores())
        self.slot.ready()

    def reload_now(self) -> None:
        if self.watcher is not None:
            self.watcher.check()

    async def _run_chores(self) -> None:
        assert isinstance(self.metrics, SharedMetrics)
        since_sweep = 0.0
        while True:
            await asyncio.sleep(PUBLISH_INTERVAL)
            try:
                await asyncio.to_thread(self.metrics.publish)
                # every second, not every interval: the updater and the status page see every worker
                if isinstance(self.guardrails, GuardrailRunner):
                    await self.guardrails.flush(self.clock.now())
                since_sweep += PUBLISH_INTERVAL
                if self.queue is not None and since_sweep >= SWEEP_INTERVAL:
                    since_sweep = 0.0
                    self.queue.resume(await asyncio.to_thread(self.queue.pending_alarms))
            except Exception:
                log.exception(
                    "worker %d: publishing metrics, flushing counts or sweeping failed", self.slot.index
                )

    async def stop(self) -> None:
        if self._chores is not None:
            self._chores.cancel()
            await asyncio.gather(self._chores, return_exceptions=True)
        await super().stop()
        assert isinstance(self.metrics, SharedMetrics)
        await asyncio.to_thread(self.metrics.publish)  # what this worker counted, to the last request
        self.board.close()
        if self.shard_locks is not None:
            self.shard_locks.close()


def serve_workers(
    options: ProxyOptions,
    workers: int,
    initial: tuple[Config, bool],
    load: Callable[[], tuple[Config, bool]],
    keyring: Keyring,
    run: Callable[[Any], None],
    policy: SupervisorPolicy | None = None,
) -> int:
    """Bind, fork ``workers`` workers and supervise them until SIGTERM/SIGINT. ``initial`` is the
    config the supervisor read at start (and whether that failed); ``load`` reads the
    config file (in each worker, so a replacement starts from the file as it is now) and says
    whether it failed (then the worker serves without experiments, as a single process does,
    unless the file was good when the supervisor started: then it starts from that one)."""
    sock = bind_listener(options.host, options.port)
    port = sock.getsockname()[1]
    options = replace(options, port=port)
    Path(options.queue_dir).mkdir(parents=True, exist_ok=True)
    MetricsBoard.fresh(Path(options.queue_dir) / METRICS_FILE).close()
    log.info("edgesplit supervisor on http://%s:%d: starting %d workers", options.host, port, workers)

    seen = (SharedSeen(), SharedSeen())  # the counts' and the outbox's, made before the fork

    def run_worker(slot: WorkerSlot) -> int:
        try:
            config, failed = load()
        except ConfigError:  # --strict-config and the file broke since the start
            config, failed = initial
        if failed and not initial[1]:  # the file broke since: start from the one that was good
            config, failed = initial
        service = WorkerService(options, config, keyring, slot, seen)
        if failed:
            service.metrics.inc("edgesplit_internal_errors_total", stage="config")
        run(serve_forever(service))
        return 0

    try:
        return Supervisor(sock, workers, run_worker, policy or SupervisorPolicy()).run()
    finally:
        sock.close()
