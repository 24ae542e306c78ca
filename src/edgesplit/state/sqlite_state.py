"""The shared state in one SQLite file: the default for one machine (several proxy processes on
that machine may share it). The counts are today's ``CountsStore`` tables; the lease, the
published document and the proxies' reports are three small tables beside them. Each method is
one transaction (``BEGIN IMMEDIATE``), run off the event loop."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..guardrails.counts import HOUR, CountsStore
from ..guardrails.updater import COUNTS_META
from ..sqlite_sql import SqliteSql
from ..status.report import SERIES_HOURS
from .port import Changes, ClusterCounts, CountBatch, Lease, StateUnavailable
from .snapshot import HOURLY_FIELDS

__all__ = ["SqliteState"]

T = TypeVar("T")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS applied_batches (proxy TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS updater_lease (id INTEGER PRIMARY KEY CHECK (id = 1), owner TEXT NOT NULL, "
    "token INTEGER NOT NULL, expires REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS shared_config (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, "
    "text TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS proxy_reports (proxy TEXT PRIMARY KEY, seen REAL NOT NULL, expires REAL NOT NULL, "
    "report TEXT NOT NULL)",
)


class SqliteState:
    def __init__(self, path: str | Path, clock: Callable[[], float]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.sql = SqliteSql(path)
        self.counts = CountsStore(self.sql)
        for statement in SCHEMA:
            self.sql.exec(statement)
        self.clock = clock
        self.lock = threading.Lock()

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        def locked() -> T:
            with self.lock, self.sql.transaction():
                return function(*args)

        try:
            return await asyncio.to_thread(locked)
        except sqlite3.OperationalError as exc:  # locked by another process for too long, disk full
            raise StateUnavailable(f"sqlite: {exc}") from exc

    async def add_counts(self, batch: CountBatch) -> None:
        await self._run(self._add_counts, batch)

    def _add_counts(self, batch: CountBatch) -> None:
        rows = self.sql.exec("SELECT seq FROM applied_batches WHERE proxy = ?", batch.proxy)
        if rows and int(rows[0]["seq"]) >= batch.seq:
            return
        self.counts.add(batch.rows)
        self.sql.exec(
            "INSERT INTO applied_batches (proxy, seq) VALUES (?, ?) "
            "ON CONFLICT (proxy) DO UPDATE SET seq = excluded.seq",
            batch.proxy,
            batch.seq,
        )

    async def read(self, experiments: list[str], now: float) -> ClusterCounts:
        return await self._run(self._read, experiments, now)

    def _read(self, experiments: list[str], now: float) -> ClusterCounts:
        counts = ClusterCounts()
        since = int(now // HOUR) * HOUR - SERIES_HOURS * HOUR
        for experiment in experiments:
            rows = self.sql.exec(
                "SELECT variant, SUM(exposures) AS exposures, SUM(conversions) AS conversions, "
                "SUM(requests) AS requests, SUM(errors) AS errors, SUM(latency_ms) AS latency_ms "
                "FROM variant_counts WHERE experiment = ? GROUP BY variant",
                experiment,
            )
            counts.totals[experiment] = {
                row["variant"]: {name: float(value) for name, value in row.items() if name != "variant"}
                for row in rows
            }
            counts.hours[experiment] = [
                (int(row["bucket"]), row["variant"], {name: float(row[name]) for name in HOURLY_FIELDS})
                for row in self.counts.series(experiment, since)
            ]
            counts.state[experiment] = self.counts.state(experiment)
            counts.history[experiment] = self.counts.history(experiment)
        counts.state[COUNTS_META] = self.counts.state(COUNTS_META)
        return counts

    async def acquire_lease(self, owner: str, ttl_seconds: float) -> Lease | None:
        return await self._run(self._acquire, owner, ttl_seconds)

    def _acquire(self, owner: str, ttl_seconds: float) -> Lease | None:
        now = self.clock()
        rows = self.sql.exec("SELECT token, expires FROM updater_lease WHERE id = 1")
        if rows and float(rows[0]["expires"]) > now:
            return None
        token = (int(rows[0]["token"]) if rows else 0) + 1
        self.sql.exec(
            "INSERT INTO updater_lease (id, owner, token, expires) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET owner = excluded.owner, token = excluded.token, expires = excluded.expires",
            owner,
            token,
            now + ttl_seconds,
        )
        return Lease(owner, token)

    async def commit(
        self, lease: Lease, changes: Changes, config_text: str | None, config_version: int
    ) -> bool:
        return await self._run(self._commit, lease, changes, config_text, config_version)

    def _commit(self, lease: Lease, changes: Changes, config_text: str | None, config_version: int) -> bool:
        held = self.sql.exec("SELECT owner, token, expires FROM updater_lease WHERE id = 1")
        if not held or (held[0]["owner"], int(held[0]["token"])) != (lease.owner, lease.token):
            return False
        if float(held[0]["expires"]) <= self.clock() or self._version() != config_version:
            return False
        for experiment, values in changes.state.items():
            self.counts.save_state(experiment, values)
        for experiment, items in changes.history.items():
            for item in items:
                self.counts.record(experiment, float(item["at"]), str(item["kind"]), item["detail"])
        if config_text is not None:
            self._publish(config_text)
        return True

    def _version(self) -> int:
        rows = self.sql.exec("SELECT version FROM shared_config WHERE id = 1")
        return int(rows[0]["version"]) if rows else 0

    def _publish(self, text: str) -> int:
        version = self._version() + 1
        self.sql.exec(
            "INSERT INTO shared_config (id, version, text) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET version = excluded.version, text = excluded.text",
            version,
            text,
        )
        return version

    async def config(self) -> tuple[int, str] | None:
        rows = await self._run(self.sql.exec, "SELECT version, text FROM shared_config WHERE id = 1")
        return (int(rows[0]["version"]), str(rows[0]["text"])) if rows else None

    async def config_version(self) -> int:
        return await self._run(self._version)

    async def seed_config(self, text: str) -> bool:
        return await self._run(lambda: self._version() == 0 and self._publish(text) > 0)

    async def push_config(self, text: str) -> int:
        return await self._run(self._publish, text)

    async def report(self, proxy: str, report: dict[str, Any], now: float, ttl_seconds: float) -> None:
        await self._run(
            self.sql.exec,
            "INSERT INTO proxy_reports (proxy, seen, expires, report) VALUES (?, ?, ?, ?) ON CONFLICT (proxy) "
            "DO UPDATE SET seen = excluded.seen, expires = excluded.expires, report = excluded.report",
            proxy,
            now,
            now + ttl_seconds,
            json.dumps(report, allow_nan=False),
        )

    async def reports(self, now: float, forget_after: float) -> dict[str, dict[str, Any] | None]:
        return await self._run(self._reports, now, forget_after)

    def _reports(self, now: float, forget_after: float) -> dict[str, dict[str, Any] | None]:
        self.sql.exec("DELETE FROM proxy_reports WHERE seen < ?", now - forget_after)
        return {
            row["proxy"]: (json.loads(row["report"]) if float(row["expires"]) > now else None)
            for row in self.sql.exec("SELECT proxy, expires, report FROM proxy_reports ORDER BY proxy")
        }

    async def leave(self, proxy: str) -> None:
        await self._run(self.sql.exec, "DELETE FROM proxy_reports WHERE proxy = ?", proxy)

    async def close(self) -> None:
        await asyncio.to_thread(self.sql.close)
