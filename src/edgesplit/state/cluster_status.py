"""``edgesplit status --state URL``: the cluster's status document from the shared store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..core import Config
from ..status import build_report
from .open import open_state
from .runner import FORGET_AFTER
from .status_source import gather_cluster

__all__ = ["cluster_report"]


def cluster_report(state_url: str, config: Config, now: float) -> dict[str, Any]:
    async def gather() -> dict[str, Any]:
        state = open_state(state_url, time.time)
        try:
            keys = [experiment.key for experiment in config.experiments]
            return build_report(config, await gather_cluster(state, keys, now, FORGET_AFTER), now)
        finally:
            await state.close()

    return asyncio.run(gather())
