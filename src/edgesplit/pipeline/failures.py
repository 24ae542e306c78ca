"""Failures of edgesplit's own, served open: every one counted, each stage's first one logged
with its traceback (a broken stage would otherwise flood the log at request rate)."""

from __future__ import annotations

import logging

from ..ports.metrics import Metrics

__all__ = ["FailOpen"]


class FailOpen:
    def __init__(self, metrics: Metrics, logger: logging.Logger) -> None:
        self.metrics = metrics
        self.logger = logger
        self.logged: set[str] = set()

    def __call__(self, stage: str, exc: BaseException) -> None:
        self.metrics.inc("edgesplit_internal_errors_total", stage=stage)
        if stage not in self.logged:
            self.logged.add(stage)
            self.logger.error(
                "edgesplit failed in %s and served the request open (logged once; "
                "edgesplit_internal_errors_total{stage=%r} counts them all): %r",
                stage,
                stage,
                exc,
                exc_info=exc,
            )
