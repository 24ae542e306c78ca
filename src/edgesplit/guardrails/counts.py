"""Counts per experiment, variant and hour: exposures, conversions, requests, origin errors
and latency. Bounded: hourly rows older than ``keep_hours`` are folded into one daily row
each, and daily rows older than ``keep_days`` are dropped (after being summed into totals)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

from ..core.guardrail_rules import Totals
from ..ports.sql import SqlPort

__all__ = ["CountsStore", "COUNT_FIELDS", "CONVERTERS"]

COUNT_FIELDS = ("exposures", "conversions", "requests", "errors", "latency_ms")
CONVERTERS = "converters"
"""In a row's amounts: the hashed visitors who converted (``recorder``), each counted once."""
HOUR = 3600
DAY = 86_400

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS variant_counts (
        experiment TEXT NOT NULL,
        variant TEXT NOT NULL,
        bucket INTEGER NOT NULL,
        span INTEGER NOT NULL,
        exposures INTEGER NOT NULL DEFAULT 0,
        conversions INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        latency_ms REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (experiment, variant, bucket, span)
    )""",
    """CREATE TABLE IF NOT EXISTS converters (
        experiment TEXT NOT NULL,
        visitor TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (experiment, visitor)
    )""",
    """CREATE TABLE IF NOT EXISTS guardrail_state (
        experiment TEXT NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (experiment, name)
    )""",
    """CREATE TABLE IF NOT EXISTS guardrail_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        experiment TEXT NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    )""",
)
HISTORY_KEEP = 200
"""Actions kept per experiment (pauses, weight moves, resumes); older ones are dropped."""


class CountsStore:
    def __init__(self, sql: SqlPort) -> None:
        self.sql = sql
        for statement in SCHEMA:
            self.sql.exec(statement)

    def _atomic(self) -> Any:
        transaction = getattr(self.sql, "transaction", None)
        return transaction() if transaction is not None else nullcontext()

    def add(self, rows: Iterable[tuple[str, str, float, dict[str, Any]]]) -> None:
        """Add ``(experiment, variant, epoch seconds, {field: amount})`` increments. A
        ``converters`` list (hashed visitor ids) adds one conversion per visitor never seen
        converting in this experiment before, whichever process or isolate reports it."""
        with self._atomic():
            for experiment, variant, when, amounts in rows:
                bucket = int(when // HOUR) * HOUR
                values = [float(amounts.get(name, 0)) for name in COUNT_FIELDS]
                values[COUNT_FIELDS.index("conversions")] += self._first_conversions(
                    experiment, amounts.get(CONVERTERS) or (), when
                )
                self.sql.exec(
                    "INSERT INTO variant_counts (experiment, variant, bucket, span, exposures, conversions, requests, "
                    "errors, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (experiment, variant, bucket, "
                    "span) DO UPDATE SET exposures = exposures + excluded.exposures, conversions = conversions + "
                    "excluded.conversions, requests = requests + excluded.requests, errors = errors + excluded.errors, "
                    "latency_ms = latency_ms + excluded.latency_ms",
                    experiment,
                    variant,
                    bucket,
                    HOUR,
                    *values,
                )

    def _first_conversions(self, experiment: str, visitors: Iterable[Any], when: float) -> int:
        first = 0
        for visitor in visitors:
            inserted = self.sql.exec(
                "INSERT INTO converters (experiment, visitor, at) VALUES (?, ?, ?) "
                "ON CONFLICT (experiment, visitor) DO NOTHING RETURNING visitor",
                experiment,
                str(visitor),
                when,
            )
            first += len(inserted)
        return first

    def totals(self, experiment: str, since: float = 0.0) -> dict[str, Totals]:
        rows = self.sql.exec(
            "SELECT variant, SUM(exposures) AS exposures, SUM(conversions) AS conversions, SUM(requests) AS requests, "
            "SUM(errors) AS errors FROM variant_counts WHERE experiment = ? AND bucket + span > ? GROUP BY variant",
            experiment,
            since,
        )
        return {
            row["variant"]: Totals(
                int(row["exposures"]), int(row["conversions"]), int(row["requests"]), int(row["errors"])
            )
            for row in rows
        }

    def latency_ms(self, experiment: str) -> dict[str, float]:
        rows = self.sql.exec(
            "SELECT variant, SUM(latency_ms) AS total, SUM(requests) AS n FROM variant_counts "
            "WHERE experiment = ? GROUP BY variant",
            experiment,
        )
        return {row["variant"]: (float(row["total"]) / int(row["n"]) if row["n"] else 0.0) for row in rows}

    def compact(self, now: float, keep_hours: int = 48, keep_days: int = 90) -> int:
        """Fold old hourly rows into daily rows, drop daily rows past ``keep_days``."""
        cutoff = int(now // HOUR) * HOUR - keep_hours * HOUR
        with self._atomic():
            self.sql.exec(
                "INSERT INTO variant_counts (experiment, variant, bucket, span, exposures, conversions, requests, "
                "errors, latency_ms) SELECT experiment, variant, (bucket / ?) * ?, ?, SUM(exposures), "
                "SUM(conversions), SUM(requests), SUM(errors), SUM(latency_ms) FROM variant_counts "
                "WHERE span = ? AND bucket < ? GROUP BY experiment, variant, bucket / ? "
                "ON CONFLICT (experiment, variant, bucket, span) DO UPDATE SET "
                "exposures = exposures + excluded.exposures, conversions = conversions + excluded.conversions, "
                "requests = requests + excluded.requests, errors = errors + excluded.errors, "
                "latency_ms = latency_ms + excluded.latency_ms",
                DAY,
                DAY,
                DAY,
                HOUR,
                cutoff,
                DAY,
            )
            folded = self.sql.exec(
                "DELETE FROM variant_counts WHERE span = ? AND bucket < ? RETURNING bucket", HOUR, cutoff
            )
            self.sql.exec(
                "DELETE FROM variant_counts WHERE span = ? AND bucket < ?",
                DAY,
                int(now // DAY) * DAY - keep_days * DAY,
            )
            self.sql.exec("DELETE FROM converters WHERE at < ?", int(now // DAY) * DAY - keep_days * DAY)
        return len(folded)

    def state(self, experiment: str) -> dict[str, float]:
        rows = self.sql.exec("SELECT name, value FROM guardrail_state WHERE experiment = ?", experiment)
        return {row["name"]: float(row["value"]) for row in rows}

    def save_state(self, experiment: str, values: dict[str, float]) -> None:
        with self._atomic():
            for name, value in values.items():
                self.sql.exec(
                    "INSERT INTO guardrail_state (experiment, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (experiment, name) DO UPDATE SET value = excluded.value",
                    experiment,
                    name,
                    value,
                )

    def series(self, experiment: str, since: float) -> list[dict[str, Any]]:
        """Hourly ``{"bucket", "variant", "exposures", "conversions"}`` rows from ``since`` on."""
        return self.sql.exec(
            "SELECT bucket, variant, SUM(exposures) AS exposures, SUM(conversions) AS conversions "
            "FROM variant_counts WHERE experiment = ? AND span = ? AND bucket >= ? "
            "GROUP BY bucket, variant ORDER BY bucket",
            experiment,
            HOUR,
            int(since // HOUR) * HOUR,
        )

    def record(self, experiment: str, at: float, kind: str, detail: dict[str, Any]) -> None:
        """One guardrail or bandit action, for people reading the status page later."""
        with self._atomic():
            self.sql.exec(
                "INSERT INTO guardrail_history (experiment, at, kind, detail) VALUES (?, ?, ?, ?)",
                experiment,
                at,
                kind,
                json.dumps(detail, sort_keys=True, allow_nan=False),
            )
            self.sql.exec(
                "DELETE FROM guardrail_history WHERE experiment = ? AND seq <= (SELECT seq FROM "
                "guardrail_history WHERE experiment = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                experiment,
                experiment,
                HISTORY_KEEP,
            )

    def history(self, experiment: str, limit: int = 50) -> list[dict[str, Any]]:
        """The latest actions, newest first."""
        rows = self.sql.exec(
            "SELECT at, kind, detail FROM guardrail_history WHERE experiment = ? ORDER BY seq DESC LIMIT ?",
            experiment,
            limit,
        )
        return [{"at": float(r["at"]), "kind": r["kind"], "detail": json.loads(r["detail"])} for r in rows]

    def forget(self, experiment: str) -> None:
        """After a person resumes an experiment, its sequential tests start afresh."""
        with self._atomic():
            self.sql.exec("DELETE FROM guardrail_state WHERE experiment = ?", experiment)
