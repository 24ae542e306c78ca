"""The edge's configuration: an in-isolate copy refreshed from KV after a TTL.

The last good config stays when KV fails, is empty, or holds something invalid; a refusal is
counted and logged once per distinct bad document. Concurrent requests in one isolate share
one refresh (the next check time moves before the read starts).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from ..core import ConfigError, ConfigHolder, parse_config_text
from ..ports.metrics import Metrics

__all__ = ["EdgeConfigSource"]

log = logging.getLogger("edgesplit.edge.config")


class EdgeConfigSource:
    def __init__(self, ttl_seconds: float, metrics: Metrics) -> None:
        self.ttl_seconds = ttl_seconds
        self.metrics = metrics
        self.holder: ConfigHolder | None = None
        self._next_check = 0.0
        self._last_text: str | None = None

    async def current(
        self, now: float, read: Callable[[], Awaitable[str | None]], fallback: str | None = None
    ) -> ConfigHolder | None:
        """The config to serve with, refreshing it when the TTL has passed."""
        if self.holder is not None and now < self._next_check:
            return self.holder
        self._next_check = now + self.ttl_seconds
        try:
            text = await read()
        except Exception as exc:  # noqa: BLE001 - KV down: keep serving the last good copy
            self.metrics.inc("edgesplit_config_source_errors_total")
            log.warning("config read failed (%r); keeping version %r", exc, self._version())
            text = None
        if text is None:
            text = fallback if self.holder is None else None
        if text is None or text == self._last_text:
            return self.holder
        self._last_text = text
        if self.holder is None:
            try:
                self.holder = ConfigHolder(parse_config_text(text))
            except ConfigError as exc:
                self._refused(exc)
            return self.holder
        error = self.holder.offer(text)
        if error is not None:
            self._refused(error)
        return self.holder

    def _version(self) -> str | None:
        return self.holder.current.version if self.holder is not None else None

    def _refused(self, error: ConfigError) -> None:
        self.metrics.inc("edgesplit_config_refused_total")
        log.error("config refused; still running version %r:\n%s", self._version(), error)
