"""Queue storage: the SQL, and nothing but the SQL.

``SqlPort.exec(sql, *params) -> list[dict]`` is all it needs: ``ctx.storage.sql.exec`` at the
edge (synchronous, a cursor turned into rows) and ``sqlite3`` here satisfy it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["QueueStore", "SqlPort", "SCHEMA"]


class SqlPort(Protocol):
    def exec(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...


SCHEMA = (
    """CREATE TABLE IF NOT EXISTS queued_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        vendor TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        enqueued_at REAL NOT NULL,
        UNIQUE (vendor, event_id)
    )""",
    "CREATE INDEX IF NOT EXISTS queued_events_by_vendor ON queued_events (vendor, seq)",
)


class QueueStore:
    def __init__(self, sql: SqlPort) -> None:
        self.sql = sql
        for statement in SCHEMA:
            self.sql.exec(statement)

    def enqueue(self, vendor: str, events: Sequence[dict[str, Any]], now: float) -> int:
        """Store events not already queued for this vendor; returns how many were new."""
        added = 0
        for event in events:
            body = json.dumps(event, separators=(",", ":"), sort_keys=True)
            before = self.count(vendor)
            self.sql.exec(
                "INSERT OR IGNORE INTO queued_events (vendor, event_id, body, bytes, enqueued_at) "
                "VALUES (?, ?, ?, ?, ?)",
                vendor,
                str(event["id"]),
                body,
                len(body.encode("utf-8")),
                now,
            )
            added += self.count(vendor) - before
        return added

    def oldest(self, vendor: str, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.sql.exec(
            "SELECT seq, body FROM queued_events WHERE vendor = ? ORDER BY seq LIMIT ?", vendor, limit
        )
        return [(int(row["seq"]), json.loads(row["body"])) for row in rows]

    def remove(self, seqs: Sequence[int]) -> None:
        for seq in seqs:
            self.sql.exec("DELETE FROM queued_events WHERE seq = ?", seq)

    def count(self, vendor: str | None = None) -> int:
        if vendor is None:
            rows = self.sql.exec("SELECT COUNT(*) AS n FROM queued_events")
        else:
            rows = self.sql.exec("SELECT COUNT(*) AS n FROM queued_events WHERE vendor = ?", vendor)
        return int(rows[0]["n"])

    def vendors(self) -> list[str]:
        return [
            row["vendor"]
            for row in self.sql.exec("SELECT DISTINCT vendor FROM queued_events ORDER BY vendor")
        ]
