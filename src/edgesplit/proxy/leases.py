"""Who does the once-per-machine work when ``edgesplit serve --workers N`` runs N processes.

- ``ShardLocks``: one drainer per queue shard at a time. An exclusive ``flock`` on a lock file
  beside the shard, held for one drain run. The kernel releases it when the holder exits or is
  killed, so a dead worker's shards are drained by the next worker whose timer fires; nothing
  waits for a lease to time out.
- ``UpdaterLease``: one guardrail update per interval. A row in the counts database, taken only
  when the previous holder's time is up and never released early, so two updates are always at
  least one interval apart whichever workers run them. Each grant is logged (the last
  ``LOG_KEEP``) for the status and the tests.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from ..ports.sql import SqlPort

__all__ = ["LOG_KEEP", "ShardLocks", "UpdaterLease"]

LOG_KEEP = 100


class ShardLocks:
    def __init__(self, directory: str | Path, shards: int) -> None:
        self.paths = [Path(directory) / f"shard-{index}.lock" for index in range(shards)]
        self._held: dict[int, int] = {}

    def acquire(self, index: int) -> bool:
        """Take shard ``index`` for one drain run without waiting; False if another process has it."""
        if index in self._held:
            return False  # this process is draining it already
        descriptor = os.open(self.paths[index], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        except BaseException:
            os.close(descriptor)
            raise
        self._held[index] = descriptor
        return True

    def release(self, index: int) -> None:
        descriptor = self._held.pop(index, None)
        if descriptor is not None:
            os.close(descriptor)  # closing the last descriptor releases the flock

    def close(self) -> None:
        for index in list(self._held):
            self.release(index)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS updater_grants (token INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, "
    "granted_at REAL NOT NULL, expires REAL NOT NULL)",
)


class UpdaterLease:
    """``acquire(now)`` is True for at most one caller per ``ttl`` seconds across processes."""

    def __init__(self, sql: SqlPort, owner: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("the updater lease needs a positive time to live")
        self.sql = sql
        self.owner = owner
        self.ttl = ttl
        for statement in _SCHEMA:
            self.sql.exec(statement)

    def acquire(self, now: float) -> bool:
        transaction: Any = getattr(self.sql, "transaction")  # noqa: B009 - SqliteSql's BEGIN IMMEDIATE
        with transaction():
            last = self.sql.exec("SELECT expires FROM updater_grants ORDER BY token DESC LIMIT 1")
            if last and float(last[0]["expires"]) > now:
                return False
            self.sql.exec(
                "INSERT INTO updater_grants (owner, granted_at, expires) VALUES (?, ?, ?)",
                self.owner,
                now,
                now + self.ttl,
            )
            self.sql.exec(
                "DELETE FROM updater_grants WHERE token <= (SELECT MAX(token) FROM updater_grants) - ?",
                LOG_KEEP,
            )
            return True

    def grants(self) -> list[dict[str, Any]]:
        """The latest grants, oldest first: ``{"token", "owner", "granted_at", "expires"}``."""
        return self.sql.exec("SELECT token, owner, granted_at, expires FROM updater_grants ORDER BY token")
