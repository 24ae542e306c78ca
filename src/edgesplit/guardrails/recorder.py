"""Collects what the request path sees into increments for the counts store (the pipeline's
observer port). In memory; the shell flushes it to storage every few seconds.

Conversions count converting visitors: each visitor at most once per experiment (remembered for
the last ``max_converters`` visitors), so a lying visitor moves a guardrail or a bandit by one
conversion, however many reports it sends, and the counts fit the tests' binomial model."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..pipeline.track_guard import BoundedSet
from ..queue.delivery import ExposureDeduper

__all__ = ["CountsRecorder"]


class CountsRecorder:
    def __init__(self, max_converters: int = 200_000) -> None:
        self._converters = BoundedSet(max_converters)
        self._pending: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._exposures = ExposureDeduper(200_000)

    def request_done(self, decision: Any, status: int, latency_seconds: float) -> None:
        for event in self._exposures.fresh(decision.exposures):
            self._pending[(event["experiment"], event["variant"])]["exposures"] += 1
        for key, assignment in decision.assignments.items():
            if assignment.in_experiment and assignment.variant is not None:
                amounts = self._pending[(key, assignment.variant)]
                amounts["requests"] += 1
                amounts["latency_ms"] += latency_seconds * 1000.0
                if status >= 500:
                    amounts["errors"] += 1

    def conversion(self, event: dict[str, Any]) -> None:
        visitor = event.get("visitor_id")
        for key, variant in event.get("assignments", {}).items():
            if visitor and not self._converters.add(f"{visitor}\x00{key}"):
                continue
            self._pending[(key, variant)]["conversions"] += 1

    def restore(self, rows: list[list[Any]] | list[tuple[str, str, float, dict[str, float]]]) -> None:
        """Put back rows whose delivery to storage failed: they go with the next flush."""
        for key, variant, _, amounts in rows:
            pending = self._pending[(key, variant)]
            for name, amount in amounts.items():
                pending[name] += amount

    def drain(self, now: float) -> list[tuple[str, str, float, dict[str, float]]]:
        rows = [(key, variant, now, dict(amounts)) for (key, variant), amounts in self._pending.items()]
        self._pending.clear()
        return rows
