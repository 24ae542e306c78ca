"""``sqlite3`` as the SQL port (``edgesplit.ports.sql``): the self-hosted queue shards, guardrail
counts and shared state run the Durable Objects' statements on real SQLite files through it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SqliteSql"]


class SqliteSql:
    """``sqlite3`` as the queue's SqlPort; statements run inside ``transaction()`` commit together."""

    def __init__(self, path: str | Path) -> None:
        self.connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute(
            "PRAGMA synchronous=FULL"
        )  # a commit is on disk before the queue relies on it
        self._depth = 0

    def exec(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in self.connection.execute(sql, params).fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.connection.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        else:
            self.connection.execute("COMMIT")
        finally:
            self._depth = 0

    def close(self) -> None:
        self.connection.close()
