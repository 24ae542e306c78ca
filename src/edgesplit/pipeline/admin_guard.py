"""Guessing the admin token: a strength floor, and lockouts for whoever keeps guessing.

- A configured admin token shorter than ``MIN_ADMIN_TOKEN_LENGTH`` characters is refused: the
  self-hosted proxy does not start, and the Worker answers its admin pages with 503 (it never
  falls back to "no token", which would open ``/metrics``).
- Every wrong or missing token on ``/metrics``, ``/status`` or the sign-in form counts as a
  failure of that client address. ``max_failures`` within ``window_seconds`` lock the address
  out for ``lockout_seconds`` (429 with ``Retry-After``, even with the right token, so a
  guesser learns nothing while locked). Beyond ``global_per_minute`` failures from all
  addresses together, every address is locked out for the rest of that minute: a botnet gets
  at most that many guesses a minute, at the cost of the admins waiting that minute too.

In memory, per process or isolate, bounded to ``remember`` addresses.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["AdminGuard", "AdminLimits", "MIN_ADMIN_TOKEN_LENGTH", "admin_token_problem"]

MIN_ADMIN_TOKEN_LENGTH = 32


def admin_token_problem(token: str | None) -> str | None:
    """Why ``token`` must not be used as the admin token, or None (no token is fine: off)."""
    if token is None or token == "":
        return None
    if len(token) < MIN_ADMIN_TOKEN_LENGTH:
        return (
            f"the admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    return None


@dataclass(frozen=True, slots=True)
class AdminLimits:
    max_failures: int = 10
    window_seconds: float = 600.0
    lockout_seconds: float = 900.0
    global_per_minute: int = 100
    remember: int = 10_000


class AdminGuard:
    def __init__(self, limits: AdminLimits | None = None) -> None:
        self.limits = limits or AdminLimits()
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._locked_until: OrderedDict[str, float] = OrderedDict()
        self._minute = -1
        self._minute_failures = 0

    def retry_after(self, client: str | None, now: float) -> int | None:
        """Seconds until ``client`` may try again, or None when it may try now."""
        if self._minute == int(now // 60) and self._minute_failures >= self.limits.global_per_minute:
            return max(1, 60 - int(now % 60))
        until = self._locked_until.get(client or "unknown")
        if until is not None and until > now:
            return max(1, int(until - now))
        return None

    def failed(self, client: str | None, now: float) -> None:
        key = client or "unknown"
        minute = int(now // 60)
        if minute != self._minute:
            self._minute, self._minute_failures = minute, 0
        self._minute_failures += 1
        started, n = self._failures.pop(key, (now, 0))
        if now - started >= self.limits.window_seconds:
            started, n = now, 0
        n += 1
        if n >= self.limits.max_failures:
            self._locked_until.pop(key, None)
            self._locked_until[key] = now + self.limits.lockout_seconds
            started, n = now, 0
            if len(self._locked_until) > self.limits.remember:
                self._locked_until.popitem(last=False)
        self._failures[key] = (started, n)
        if len(self._failures) > self.limits.remember:
            self._failures.popitem(last=False)
