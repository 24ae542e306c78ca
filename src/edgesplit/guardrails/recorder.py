"""Collects what the request path sees into increments for the counts store (the pipeline's
observer port). In memory; the shell flushes it to storage every few seconds.

Conversions count converting visitors: each visitor at most once per experiment, so a lying
visitor moves a guardrail or a bandit by one conversion, however many reports it sends, and the
counts fit the tests' binomial model. This process remembers its last ``max_converters``; the
rows carry the (hashed) visitors under ``converters`` and the counts store counts each one once
across every process or isolate that flushes into it."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from ..core.recent import BoundedSet, ExposureDeduper
from .counts import CONVERTERS

__all__ = ["CountsRecorder", "converter_key"]


def converter_key(visitor_id: str) -> str:
    """A visitor as the counts store keeps it: pseudonymous, short."""
    return hashlib.sha256(visitor_id.encode("utf-8", "replace")).hexdigest()[:24]


class CountsRecorder:
    def __init__(self, max_converters: int = 200_000) -> None:
        self._converters = BoundedSet(max_converters)
        self._pending: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._new_converters: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.exposures_seen: Any = ExposureDeduper(200_000)
        """``fresh(events)``: keeps each exposure id once (``serve --workers`` shares one across workers)."""

    def request_done(self, decision: Any, status: int, latency_seconds: float) -> None:
        for event in self.exposures_seen.fresh(decision.exposures):
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
            if not visitor:
                self._pending[(key, variant)]["conversions"] += 1
            elif self._converters.add(f"{visitor}\x00{key}"):
                self._new_converters[(key, variant)].append(converter_key(visitor))

    def restore(self, rows: list[list[Any]] | list[tuple[str, str, float, dict[str, Any]]]) -> None:
        """Put back rows whose delivery to storage failed: they go with the next flush."""
        for key, variant, _, amounts in rows:
            pending = self._pending[(key, variant)]
            for name, amount in amounts.items():
                if name == CONVERTERS:
                    self._new_converters[(key, variant)].extend(amount)
                else:
                    pending[name] += amount

    def drain(self, now: float) -> list[tuple[str, str, float, dict[str, Any]]]:
        rows: list[tuple[str, str, float, dict[str, Any]]] = []
        for pair in {**self._pending, **self._new_converters}:
            amounts: dict[str, Any] = dict(self._pending.get(pair, {}))
            if self._new_converters.get(pair):
                amounts[CONVERTERS] = list(self._new_converters[pair])
            rows.append((pair[0], pair[1], now, amounts))
        self._pending.clear()
        self._new_converters.clear()
        return rows
