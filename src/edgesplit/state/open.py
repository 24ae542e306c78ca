"""``--state`` / ``EDGESPLIT_STATE_URL``: which shared store a proxy uses."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from .port import StatePort

__all__ = ["STATE_ENV", "open_state"]

STATE_ENV = "EDGESPLIT_STATE_URL"


def open_state(url: str, clock: Callable[[], float]) -> StatePort:
    """``redis://`` or ``rediss://`` (Redis 7 / Valkey) or ``sqlite:///path/to/shared.sqlite3``."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .redis_state import RedisState
        except ImportError as exc:  # the optional dependency
            raise ValueError(
                "--state redis://... needs the redis extra: pip install 'edgesplit[redis]'"
            ) from exc
        return RedisState(url)
    if scheme == "sqlite":
        path = url[len("sqlite://") :]
        if not path.startswith("/") or len(path) < 2:
            raise ValueError("--state sqlite:...: use sqlite:///absolute/path/to/shared.sqlite3")
        from .sqlite_state import SqliteState

        return SqliteState(path, clock)
    # the URL itself is not echoed: it may carry a password
    raise ValueError(
        f"--state: unknown scheme {scheme[:20]!r}: expected redis://host:port/db or sqlite:///path"
    )
