"""sqlite3 in memory behind the SqlPort the queue and counts stores are written against."""

from __future__ import annotations

import sqlite3
from typing import Any


class MemorySql:
    """A plain SqlPort (no transaction hook), like a Durable Object's storage.sql."""

    def __init__(self) -> None:
        self.connection = sqlite3.connect(":memory:", isolation_level=None)
        self.connection.row_factory = sqlite3.Row

    def exec(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self.connection.execute(sql, params).fetchall()]
