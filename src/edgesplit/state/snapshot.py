"""The cluster's numbers as a ``CountsStore`` in memory, so the one validated update step
(``guardrails.updater.prepare_update``) and the status report run on them unchanged; and what
that step wrote into it, to commit to the shared store in one piece."""

from __future__ import annotations

import json
from typing import Any

from ..guardrails.counts import COUNT_FIELDS, HOUR, CountsStore
from ..sqlite_sql import SqliteSql
from .port import Changes, ClusterCounts

__all__ = ["Snapshot"]

HOURLY_FIELDS = ("exposures", "conversions")
"""The fields kept per hour in the shared store (the status page's charts need no more)."""


class Snapshot:
    def __init__(self, counts: ClusterCounts) -> None:
        self.sql = SqliteSql(":memory:")
        self.store = CountsStore(self.sql)
        self._history_seen = 0
        self._load(counts)
        self._history_seen = int(
            self.sql.exec("SELECT COALESCE(MAX(seq), 0) AS n FROM guardrail_history")[0]["n"]
        )

    def _load(self, counts: ClusterCounts) -> None:
        with self.sql.transaction():
            for experiment, variants in counts.totals.items():
                rest = {variant: dict(fields) for variant, fields in variants.items()}
                for bucket, variant, amounts in counts.hours.get(experiment, []):
                    self._row(experiment, variant, bucket, HOUR, amounts)
                    into = rest.setdefault(variant, {})
                    for name in HOURLY_FIELDS:
                        into[name] = into.get(name, 0.0) - amounts.get(name, 0.0)
                for variant, fields in rest.items():  # what is older than the hours kept
                    self._row(experiment, variant, 0, 1, fields)
            for experiment, values in counts.state.items():
                self.store.save_state(experiment, values)
            for experiment, items in counts.history.items():
                for item in reversed(items):
                    self.store.record(experiment, float(item["at"]), str(item["kind"]), item["detail"])

    def _row(self, experiment: str, variant: str, bucket: int, span: int, amounts: dict[str, float]) -> None:
        self.sql.exec(
            "INSERT INTO variant_counts (experiment, variant, bucket, span, exposures, conversions, requests, "
            "errors, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            experiment,
            variant,
            bucket,
            span,
            *(float(amounts.get(name, 0.0)) for name in COUNT_FIELDS),
        )

    def changes(self) -> Changes:
        """The guardrail state as it is now, and the actions recorded since the snapshot."""
        changes = Changes()
        for row in self.sql.exec("SELECT experiment, name, value FROM guardrail_state"):
            changes.state.setdefault(row["experiment"], {})[row["name"]] = float(row["value"])
        for row in self.sql.exec(
            "SELECT experiment, at, kind, detail FROM guardrail_history WHERE seq > ? ORDER BY seq",
            self._history_seen,
        ):
            item: dict[str, Any] = {
                "at": float(row["at"]),
                "kind": row["kind"],
                "detail": json.loads(row["detail"]),
            }
            changes.history.setdefault(row["experiment"], []).append(item)
        return changes

    def close(self) -> None:
        self.sql.close()
