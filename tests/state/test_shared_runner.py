"""The shared-state runner's flush: bounded batches (drops counted), a failed batch sent again
with the same number once the store is back, and nothing drained meanwhile lost."""

from __future__ import annotations

import time
from pathlib import Path

from edgesplit import load_config
from edgesplit.core import ConfigHolder
from edgesplit.pipeline import Metrics
from edgesplit.proxy.runtime import SystemClock
from edgesplit.state import open_state
from edgesplit.state.runner import SharedGuardrailRunner
from edgesplit.state.sqlite_state import SqliteState

CONFIG = {"schema_version": 1, "version": "r-1", "experiments": []}


def runner_on(path: Path, max_batch_rows: int = 10_000) -> SharedGuardrailRunner:
    return SharedGuardrailRunner(
        SqliteState(path, time.time),
        ConfigHolder(load_config(CONFIG)),
        None,
        SystemClock(),
        Metrics(),
        max_batch_rows=max_batch_rows,
        proxy_id="p",
    )


async def test_a_batch_beyond_its_bound_drops_the_rest_and_counts_them(tmp_path: Path) -> None:
    runner = runner_on(tmp_path / "shared.sqlite3", max_batch_rows=2)
    try:
        now = time.time()
        runner.recorder.restore([(f"e{i}", "a", now, {"requests": 1.0}) for i in range(5)])
        assert await runner.flush(now)
        assert runner.dropped_rows == 3
        assert runner.metrics.value("edgesplit_state_count_rows_dropped_total") == 3
        counts = await runner.state.read([f"e{i}" for i in range(5)], now)
        assert sum(1 for key in counts.totals if counts.totals[key]) == 2
    finally:
        await runner.stop()


async def test_a_failed_batch_goes_again_once_and_later_counts_follow(tmp_path: Path) -> None:
    runner = runner_on(tmp_path / "shared.sqlite3")
    reachable = runner.state
    now = time.time()
    try:
        runner.recorder.restore([("e", "a", now, {"requests": 3.0})])
        runner.state = open_state("redis://127.0.0.1:1/0", time.time)  # nothing listens there
        assert not await runner.flush(now) and runner.behind
        runner.recorder.restore([("e", "a", now, {"requests": 4.0})])  # arrives while it is down
        assert not await runner.flush(now)
        await runner.state.close()
        runner.state = reachable
        assert await runner.flush(now)  # the kept batch (seq 1), then what waited in the recorder (seq 2)
        assert not runner.behind
        assert runner.metrics.value("edgesplit_state_unavailable_total", step="counts") == 2
        counts = await runner.state.read(["e"], now)
        assert counts.totals["e"]["a"]["requests"] == 7
    finally:
        await runner.stop()
