"""One ``/metrics`` for all the workers of ``edgesplit serve --workers N``.

With N processes on one port a scraper reaches whichever worker the kernel picks. If each
answered with its own counters, consecutive scrapes would jump between N unrelated series and
counters would seem to go backwards. So every worker publishes a snapshot of its metrics into
one SQLite file (at each scrape, and every ``PUBLISH_INTERVAL`` seconds in the background), and
any worker answers with the machine's totals:

- counters and the latency histogram: the sum over every process of this run, including
  workers that have exited (their last snapshot stays, folded into one ``retired`` row), so a
  replaced worker never makes a total go down. Publishing and reading happen in one
  transaction: a scrape always sees every snapshot at least as new as the previous scrape did.
- gauges: the value from the most recently published snapshot that has it (the queue and count
  gauges read the shared files, so every worker would report the same numbers).

What a killed worker (SIGKILL) counted since its last publication, at most one interval, is lost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..pipeline import Metrics
from ..sqlite_sql import SqliteSql

__all__ = ["PUBLISH_INTERVAL", "MetricsBoard", "SharedMetrics", "merge_snapshots", "snapshot"]

PUBLISH_INTERVAL = 1.0
RETIRED = "retired"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS worker_metrics (process TEXT PRIMARY KEY, pid INTEGER NOT NULL, "
    "published REAL NOT NULL, snapshot TEXT NOT NULL)",
)

Labels = tuple[tuple[str, str], ...]


def snapshot(metrics: Metrics) -> dict[str, Any]:
    """A JSON-able copy of one process's metrics."""

    def series(table: dict[str, dict[Labels, float]]) -> dict[str, list[Any]]:
        return {
            name: [[list(map(list, labels)), value] for labels, value in rows.items()]
            for name, rows in table.items()
        }

    return {
        "counters": series(metrics.counters),
        "gauges": series(metrics.gauges),
        "buckets": list(metrics._bucket_counts),  # noqa: SLF001 - the histogram has no public accessor
        "latency_sum": metrics._latency_sum,  # noqa: SLF001
        "latency_count": metrics._latency_count,  # noqa: SLF001
    }


def _labels(raw: list[Any]) -> Labels:
    return tuple((str(name), str(value)) for name, value in raw)


def merge_snapshots(snapshots: list[dict[str, Any]], into: Metrics | None = None) -> Metrics:
    """Counters and histogram summed; gauges from the latest snapshot that has them (``snapshots``
    oldest first)."""
    merged = into or Metrics()
    for item in snapshots:
        for name, rows in item.get("counters", {}).items():
            for labels, value in rows:
                merged.counters[name][_labels(labels)] += float(value)
        for name, rows in item.get("gauges", {}).items():
            for labels, value in rows:
                merged.gauges[name][_labels(labels)] = float(value)
        buckets = item.get("buckets") or []
        if len(buckets) == len(merged._bucket_counts):  # noqa: SLF001
            merged._bucket_counts = [a + int(b) for a, b in zip(merged._bucket_counts, buckets, strict=True)]  # noqa: SLF001
        merged._latency_sum += float(item.get("latency_sum", 0.0))  # noqa: SLF001
        merged._latency_count += int(item.get("latency_count", 0))  # noqa: SLF001
    return merged


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsBoard:
    """The shared SQLite file the workers publish into (``<queue dir>/worker-metrics.sqlite3``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.sql = SqliteSql(self.path)
        self.lock = threading.Lock()  # the event loop (scrapes) and a worker thread (publishing)
        self.sql.exec("PRAGMA synchronous=NORMAL")  # metrics: losing the last commit to a power cut is fine
        for statement in _SCHEMA:
            self.sql.exec(statement)

    @classmethod
    def fresh(cls, path: str | Path) -> MetricsBoard:
        """A board for a new run (the supervisor's, before any worker starts): counters start at 0,
        as a single process's do after a restart."""
        board = cls(path)
        board.sql.exec("DELETE FROM worker_metrics")
        return board

    def publish(self, process: str, data: dict[str, Any], now: float) -> None:
        with self.lock:
            self._publish(process, data, now)

    def _publish(self, process: str, data: dict[str, Any], now: float) -> None:
        self.sql.exec(
            "INSERT INTO worker_metrics (process, pid, published, snapshot) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (process) DO UPDATE SET published = excluded.published, snapshot = excluded.snapshot",
            process,
            os.getpid(),
            now,
            json.dumps(data, separators=(",", ":")),
        )

    def publish_and_read(self, process: str, data: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """Publish this process's snapshot and read everyone's, in one transaction."""
        with self.lock, self.sql.transaction():
            self._publish(process, data, now)
            rows = self.sql.exec("SELECT snapshot FROM worker_metrics ORDER BY published, process")
        return [json.loads(row["snapshot"]) for row in rows]

    def retire_dead(self) -> int:
        """Fold the snapshots of processes that have exited into one row (the sum is unchanged)."""
        with self.lock, self.sql.transaction():
            rows = self.sql.exec(
                "SELECT process, pid, snapshot FROM worker_metrics WHERE process != ?", RETIRED
            )
            dead = [row for row in rows if not _pid_alive(int(row["pid"]))]
            if not dead:
                return 0
            kept = self.sql.exec("SELECT snapshot FROM worker_metrics WHERE process = ?", RETIRED)
            parts = [json.loads(kept[0]["snapshot"])] if kept else []
            parts += [json.loads(row["snapshot"]) for row in dead]
            folded = snapshot(merge_snapshots(parts))
            folded["gauges"] = {}  # a gone process's gauges describe nothing any more
            self.sql.exec(
                "INSERT INTO worker_metrics (process, pid, published, snapshot) VALUES (?, 0, 0, ?) "
                "ON CONFLICT (process) DO UPDATE SET snapshot = excluded.snapshot",
                RETIRED,
                json.dumps(folded, separators=(",", ":")),
            )
            for row in dead:
                self.sql.exec("DELETE FROM worker_metrics WHERE process = ?", row["process"])
            return len(dead)

    def close(self) -> None:
        with self.lock:
            self.sql.close()


class SharedMetrics(Metrics):
    """A worker's metrics: counted in memory as before; ``render`` answers for the whole machine."""

    def __init__(self, board: MetricsBoard, process: str) -> None:
        super().__init__()
        self.board = board
        self.process = process

    def publish(self) -> None:
        self.board.publish(self.process, snapshot(self), time.time())

    def render(self) -> str:
        return merge_snapshots(
            self.board.publish_and_read(self.process, snapshot(self), time.time())
        ).render()
