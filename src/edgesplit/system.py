"""The real clock and randomness, for the shells (the core and pipeline are handed them).

Both shells use these at request time; nothing here runs at import.
"""

from __future__ import annotations

import secrets
import time

__all__ = ["SystemClock", "new_visitor_id"]


def new_visitor_id() -> str:
    """128 random bits, base64url: 22 characters."""
    return secrets.token_urlsafe(16)


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
