"""``edgesplit serve --state URL``: the shared-state runner and status source for a proxy."""

from __future__ import annotations

from typing import Any

from ..core import ConfigHolder
from ..ports import Clock
from ..ports.metrics import Metrics
from ..status import merge_queue_stats
from .open import open_state
from .runner import SharedGuardrailRunner
from .status_source import SharedStatusSource

__all__ = ["shared_guardrails"]


def shared_guardrails(
    options: Any, holder: ConfigHolder, clock: Clock, metrics: Metrics, queue: Any
) -> tuple[SharedGuardrailRunner, SharedStatusSource]:
    runner = SharedGuardrailRunner(
        open_state(options.state_url, clock.now),
        holder,
        options.config_path,
        clock,
        metrics,
        interval=options.guardrail_interval,
        poll_interval=options.reload_interval,
        queue_stats=(lambda: merge_queue_stats(queue.stats().values())) if queue is not None else None,
    )
    return runner, SharedStatusSource(runner)
