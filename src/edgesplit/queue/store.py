"""Queue storage: the SQL, once, for a Durable Object's ``ctx.storage.sql`` and ``sqlite3``.

``SqlPort.exec(sql, *params) -> list[dict]`` is all it needs. Every event is in exactly one
place: ``queued_events`` (pending), ``dead_letters`` (refused by the vendor, with the reason),
or gone (delivered, or dropped by a bound, both counted in ``vendor_stats``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..core import defaults
from ..ports.sql import SqlPort

__all__ = ["Bounds", "EnqueueResult", "QueueStore", "SqlPort", "SCHEMA", "VendorState"]


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
    """CREATE TABLE IF NOT EXISTS dead_letters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        vendor TEXT NOT NULL,
        event_id TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT NOT NULL,
        failed_at REAL NOT NULL,
        UNIQUE (vendor, event_id)
    )""",
    """CREATE TABLE IF NOT EXISTS vendor_stats (
        vendor TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        delivered INTEGER NOT NULL DEFAULT 0,
        retried INTEGER NOT NULL DEFAULT 0,
        dropped_full INTEGER NOT NULL DEFAULT 0,
        dropped_expired INTEGER NOT NULL DEFAULT 0,
        dead_lettered INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        pending INTEGER NOT NULL DEFAULT 0,
        pending_bytes INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE IF NOT EXISTS shard_meta (name TEXT PRIMARY KEY, value REAL)",
)

_COUNTERS = ("delivered", "retried", "dropped_full", "dropped_expired", "dead_lettered", "duplicates")


@dataclass(frozen=True, slots=True)
class Bounds:
    """Per shard and vendor. Beyond ``max_events`` or ``max_bytes`` the ``drop`` policy
    applies (``oldest``: make room by dropping the oldest pending events; ``newest``: refuse
    the incoming ones); events older than ``max_age_seconds`` are dropped before sending."""

    max_events: int = defaults.QUEUE_MAX_EVENTS
    max_bytes: int = defaults.QUEUE_MAX_BYTES
    max_age_seconds: float = defaults.QUEUE_MAX_AGE_SECONDS
    drop: str = defaults.QUEUE_DROP


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    added: int
    """Rows inserted; ``dropped`` rows were then removed to respect the bounds (with the
    ``newest`` policy, those are the incoming ones)."""
    duplicates: int
    dropped: int


@dataclass(frozen=True, slots=True)
class VendorState:
    attempts: int
    next_attempt_at: float
    last_error: str


class QueueStore:
    def __init__(self, sql: SqlPort) -> None:
        self.sql = sql
        for statement in SCHEMA:
            self.sql.exec(statement)

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        transaction = getattr(self.sql, "transaction", None)
        with transaction() if transaction is not None else nullcontext():
            yield

    # -- counters and state --------------------------------------------------------
    def _ensure_vendor(self, vendor: str) -> None:
        self.sql.exec("INSERT OR IGNORE INTO vendor_stats (vendor) VALUES (?)", vendor)

    def _count(self, vendor: str, counter: str, amount: int) -> None:
        assert counter in _COUNTERS
        if amount:
            self._ensure_vendor(vendor)
            self.sql.exec(
                f"UPDATE vendor_stats SET {counter} = {counter} + ? WHERE vendor = ?", amount, vendor
            )

    def _insert(self, vendor: str, event_id: str, body: str, now: float) -> int | None:
        """Insert one pending event unless already pending; keeps the pending counters, so the
        bounds never need a COUNT over the table (rows read are billed at the edge)."""
        size = len(body.encode("utf-8"))
        rows = self.sql.exec(
            "INSERT INTO queued_events (vendor, event_id, body, bytes, enqueued_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (vendor, event_id) DO NOTHING RETURNING seq",
            vendor,
            event_id,
            body,
            size,
            now,
        )
        if not rows:
            return None
        self._ensure_vendor(vendor)
        self.sql.exec(
            "UPDATE vendor_stats SET pending = pending + 1, pending_bytes = pending_bytes + ? "
            "WHERE vendor = ?",
            size,
            vendor,
        )
        return int(rows[0]["seq"])

    def _delete(self, where: str, *params: Any) -> list[dict[str, Any]]:
        """Delete pending events matching ``where``; returns them and keeps the counters."""
        rows = self.sql.exec(
            f"DELETE FROM queued_events WHERE {where} RETURNING vendor, event_id, body, bytes", *params
        )
        totals: dict[str, list[int]] = {}
        for row in rows:
            total = totals.setdefault(row["vendor"], [0, 0])
            total[0] += 1
            total[1] += int(row["bytes"])
        for vendor, (count, size) in totals.items():
            self.sql.exec(
                "UPDATE vendor_stats SET pending = pending - ?, pending_bytes = pending_bytes - ? "
                "WHERE vendor = ?",
                count,
                size,
                vendor,
            )
        return rows

    def _pending(self, vendor: str) -> tuple[int, int]:
        rows = self.sql.exec("SELECT pending, pending_bytes FROM vendor_stats WHERE vendor = ?", vendor)
        return (int(rows[0]["pending"]), int(rows[0]["pending_bytes"])) if rows else (0, 0)

    def state(self, vendor: str) -> VendorState:
        rows = self.sql.exec(
            "SELECT attempts, next_attempt_at, last_error FROM vendor_stats WHERE vendor = ?", vendor
        )
        if not rows:
            return VendorState(0, 0.0, "")
        row = rows[0]
        return VendorState(int(row["attempts"]), float(row["next_attempt_at"]), str(row["last_error"]))

    def set_state(self, vendor: str, attempts: int, next_attempt_at: float, last_error: str) -> None:
        self._ensure_vendor(vendor)
        self.sql.exec(
            "UPDATE vendor_stats SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE vendor = ?",
            attempts,
            next_attempt_at,
            last_error[:500],
            vendor,
        )

    def alarm_at(self) -> float | None:
        rows = self.sql.exec("SELECT value FROM shard_meta WHERE name = 'alarm_at'")
        return float(rows[0]["value"]) if rows and rows[0]["value"] is not None else None

    def set_alarm_at(self, when: float | None) -> None:
        self.sql.exec(
            "INSERT INTO shard_meta (name, value) VALUES ('alarm_at', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            when,
        )

    # -- pending events --------------------------------------------------------------
    def enqueue(
        self, vendor: str, events: Sequence[dict[str, Any]], now: float, bounds: Bounds | None = None
    ) -> EnqueueResult:
        """Keep events not already pending (or dead) for this vendor, then apply the bounds."""
        bounds = bounds or Bounds()
        with self._atomic():
            added = duplicates = 0
            for event in events:
                event_id = str(event["id"])
                dead = self.sql.exec(
                    "SELECT 1 AS x FROM dead_letters WHERE vendor = ? AND event_id = ?", vendor, event_id
                )
                body = json.dumps(event, separators=(",", ":"), sort_keys=True)
                if dead or self._insert(vendor, event_id, body, now) is None:
                    duplicates += 1
                else:
                    added += 1
            self._ensure_vendor(vendor)
            self._count(vendor, "duplicates", duplicates)
            dropped = self._enforce(vendor, bounds)
            return EnqueueResult(added, duplicates, dropped)

    def _enforce(self, vendor: str, bounds: Bounds) -> int:
        dropped = 0
        order = "DESC" if bounds.drop == "newest" else "ASC"
        count, size = self._pending(vendor)
        while count > bounds.max_events or size > bounds.max_bytes:
            victim = self._delete(
                f"seq = (SELECT seq FROM queued_events WHERE vendor = ? ORDER BY seq {order} LIMIT 1)", vendor
            )
            if not victim:
                break
            dropped += 1
            count, size = count - 1, size - int(victim[0]["bytes"])
        self._count(vendor, "dropped_full", dropped)
        return dropped

    def expire(self, vendor: str, now: float, max_age_seconds: float) -> int:
        with self._atomic():
            rows = self._delete("vendor = ? AND enqueued_at < ?", vendor, now - max_age_seconds)
            self._count(vendor, "dropped_expired", len(rows))
            return len(rows)

    def oldest(self, vendor: str, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self.sql.exec(
            "SELECT seq, body FROM queued_events WHERE vendor = ? ORDER BY seq LIMIT ?", vendor, limit
        )
        return [(int(row["seq"]), json.loads(row["body"])) for row in rows]

    def acknowledge(self, vendor: str, event_ids: Sequence[str]) -> int:
        """The vendor has these: forget them and count them delivered."""
        with self._atomic():
            removed = sum(
                len(self._delete("vendor = ? AND event_id = ?", vendor, event_id)) for event_id in event_ids
            )
            self._count(vendor, "delivered", removed)
            return removed

    def count_retry(self, vendor: str, events: int) -> None:
        self._count(vendor, "retried", events)

    # -- dead letters ----------------------------------------------------------------
    def dead_letter(self, vendor: str, event_ids: Sequence[str], reason: str, now: float) -> int:
        """Move pending events the vendor refused for good into ``dead_letters``."""
        with self._atomic():
            moved = 0
            for event_id in event_ids:
                for row in self._delete("vendor = ? AND event_id = ?", vendor, event_id):
                    self._insert_dead(vendor, event_id, row["body"], reason, now)
                    moved += 1
            self._count(vendor, "dead_lettered", moved)
            return moved

    def dead_letter_events(
        self, vendor: str, events: Sequence[dict[str, Any]], reason: str, now: float
    ) -> int:
        """Record events refused before they were ever queued (the direct path)."""
        with self._atomic():
            for event in events:
                body = json.dumps(event, separators=(",", ":"), sort_keys=True)
                self._insert_dead(vendor, str(event["id"]), body, reason, now)
            self._count(vendor, "dead_lettered", len(events))
            return len(events)

    def _insert_dead(self, vendor: str, event_id: str, body: str, reason: str, now: float) -> None:
        self.sql.exec(
            "INSERT INTO dead_letters (vendor, event_id, body, reason, failed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (vendor, event_id) DO UPDATE SET reason = excluded.reason, failed_at = excluded.failed_at",
            vendor,
            event_id,
            body,
            reason[:500],
            now,
        )

    def dead_letters(self, vendor: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.sql.exec(
            "SELECT vendor, event_id, reason, failed_at, body FROM dead_letters "
            "WHERE (? IS NULL OR vendor = ?) ORDER BY seq LIMIT ?",
            vendor,
            vendor,
            limit,
        )
        return [{**row, "event": json.loads(row.pop("body"))} for row in (dict(r) for r in rows)]

    def replay(self, vendor: str | None, now: float) -> int:
        """Put dead letters back in the queue (after fixing what the vendor refused)."""
        with self._atomic():
            rows = self.sql.exec(
                "DELETE FROM dead_letters WHERE (? IS NULL OR vendor = ?) RETURNING vendor, event_id, body",
                vendor,
                vendor,
            )
            for row in rows:
                self._insert(row["vendor"], row["event_id"], row["body"], now)
            for name in {row["vendor"] for row in rows}:
                self.set_state(name, 0, 0.0, "")
            return len(rows)

    # -- visibility --------------------------------------------------------------------
    def vendors(self) -> list[str]:
        rows = self.sql.exec(
            "SELECT vendor FROM vendor_stats UNION SELECT DISTINCT vendor FROM queued_events ORDER BY 1"
        )
        return [row["vendor"] for row in rows]

    def pending_vendors(self) -> list[str]:
        return [
            row["vendor"]
            for row in self.sql.exec("SELECT DISTINCT vendor FROM queued_events ORDER BY vendor")
        ]

    def count(self, vendor: str | None = None) -> int:
        rows = self.sql.exec(
            "SELECT COUNT(*) AS n FROM queued_events WHERE (? IS NULL OR vendor = ?)", vendor, vendor
        )
        return int(rows[0]["n"])

    def stats(self, now: float) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for vendor in self.vendors():
            pending = self.sql.exec(
                "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b, MIN(enqueued_at) AS oldest "
                "FROM queued_events WHERE vendor = ?",
                vendor,
            )[0]
            counters = self.sql.exec("SELECT * FROM vendor_stats WHERE vendor = ?", vendor)
            dead = self.sql.exec("SELECT COUNT(*) AS n FROM dead_letters WHERE vendor = ?", vendor)[0]["n"]
            row = dict(counters[0]) if counters else {}
            oldest = pending["oldest"]
            out[vendor] = {
                "depth": int(pending["n"]),
                "bytes": int(pending["b"]),
                "oldest_age_seconds": round(now - float(oldest), 3) if oldest is not None else 0.0,
                "dead_letters": int(dead),
                **{name: int(row.get(name, 0)) for name in _COUNTERS},
                "attempts": int(row.get("attempts", 0)),
                "next_attempt_at": float(row.get("next_attempt_at", 0.0)),
                "last_error": row.get("last_error", ""),
            }
        return out
