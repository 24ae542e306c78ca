"""The self-hosted server's timeouts and connection ceiling (see ``server_limits``), without
importing aiohttp: the CLI reads the defaults for its help text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ServerLimits"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    header_timeout: float = 10.0
    idle_timeout: float = 15.0
    body_timeout: float = 30.0
    max_connections: int = 1024

    def runner_kwargs(self) -> dict[str, Any]:
        """For ``web.AppRunner``: aiohttp's keep-alive timer also closes new silent connections."""
        return {"keepalive_timeout": self.idle_timeout}
