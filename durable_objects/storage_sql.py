"""``ctx.storage.sql`` as the queue's SqlPort: synchronous ``exec`` returning rows as dicts."""

from __future__ import annotations

from typing import Any

__all__ = ["StorageSql"]


class StorageSql:
    def __init__(self, sql: Any) -> None:
        self._sql = sql

    def exec(self, query: str, *params: Any) -> list[dict[str, Any]]:
        cursor = self._sql.exec(query, *params)
        rows = cursor.toArray()  # read the cursor whole: half-read cursors block later DDL
        return [dict(row) if isinstance(row, dict) else dict(row.to_py()) for row in rows]
