"""``edgesplit config push FILE --state URL``: publish a config document to every proxy sharing
the state. It is validated first, as every proxy will parse it; an invalid one is refused with
the JSON path and the reason, and nothing is stored."""

from __future__ import annotations

import time
from pathlib import Path

from ..core import parse_config_text
from .open import open_state

__all__ = ["push_config_file"]


async def push_config_file(state_url: str, path: str | Path) -> int:
    """Validate and publish; returns the new version. Raises ConfigError, StateUnavailable."""
    text = Path(path).read_text(encoding="utf-8")
    parse_config_text(text)
    state = open_state(state_url, time.time)
    try:
        return await state.push_config(text)
    finally:
        await state.close()
