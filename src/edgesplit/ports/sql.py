"""The SQL port: one statement in, rows out. Durable Objects' ``ctx.storage.sql`` and Python's
``sqlite3`` (``edgesplit.sqlite_sql``) both satisfy it, so the queue's and the counters'
statements that run at the edge are the ones tested against a real SQLite here."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["SqlPort"]


class SqlPort(Protocol):
    """``exec`` runs one statement. A port may also offer ``transaction()`` (sqlite3 does);
    a Durable Object needs none: its storage commits each request's writes atomically."""

    def exec(self, sql: str, *params: Any) -> list[dict[str, Any]]: ...
