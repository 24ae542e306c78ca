"""The result of deciding one experiment for one visitor."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Assignment", "REASONS"]

REASONS = (
    "not_targeted",
    "forced",
    "paused",
    "stopped",
    "no_hash_attribute",
    "namespace",
    "coverage",
    "holdout",
    "bucketed",
    "bot",
    "fail_open",
)


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str | None
    """The variant key, or ``None`` when the experiment does not apply to this request."""
    index: int | None
    in_experiment: bool
    """True only when the visitor was bucketed: the visitor counts in the analysis."""
    reason: str
