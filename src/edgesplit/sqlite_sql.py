"""``sqlite3`` as the SQL port (``edgesplit.ports.sql``): the self-hosted queue shards, guardrail
counts and shared state run the Durable Objects' statements on real SQLite files through it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["SqliteSql"]

WAL_SWITCH_SECONDS = 30.0
"""How long to keep trying to put a file in WAL mode while other processes open it too."""


class SqliteSql:
    """``sqlite3`` as the queue's SqlPort; statements run inside ``transaction()`` commit together."""

    def __init__(self, path: str | Path) -> None:
        self.connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        self._use_wal()
        self.connection.execute(
            "PRAGMA synchronous=FULL"
        )  # a commit is on disk before the queue relies on it
        self._depth = 0

    def _use_wal(self) -> None:
        # Switching to WAL needs an exclusive lock, and SQLite answers "database is locked" at
        # once, without its busy handler, while another process (a sibling worker of
        # `serve --workers`) opens or switches the same new file: try again for a while.
        deadline = time.monotonic() + WAL_SWITCH_SECONDS
        pause = 0.005
        while True:
            try:
                self.connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

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
