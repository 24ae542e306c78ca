"""From a hash in [0, 1) to a variant index: weights, coverage and bucket ranges.

Ranges follow GrowthBook's layout: variant ``i`` owns ``[start_i, start_i + coverage * w_i)``
where ``start_i`` is the cumulative weight before it. Raising coverage therefore only adds
visitors; nobody already in a variant moves to another.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

__all__ = ["bucket_ranges", "choose_in_sorted_ranges", "choose_variation", "effective_weights"]

GROWTHBOOK_SUM_MIN = 0.99
GROWTHBOOK_SUM_MAX = 1.01


def effective_weights(weights: Sequence[float], scheme: str) -> tuple[float, ...]:
    """The weights bucketing uses.

    Native: each weight over their sum. GrowthBook schemes: weights already summing to 1
    within GrowthBook's tolerance are used exactly as given (as its SDKs do, so boundary ids
    land identically); others (say ``[70, 30]``) are divided by their sum.
    """
    total = math.fsum(weights)
    if total <= 0 or not math.isfinite(total):
        raise ValueError("weights must have a positive, finite sum")
    if scheme != "edgesplit" and GROWTHBOOK_SUM_MIN <= sum(weights) <= GROWTHBOOK_SUM_MAX:
        return tuple(float(weight) for weight in weights)
    return tuple(weight / total for weight in weights)


def bucket_ranges(
    weights: Sequence[float], coverage: float, *, close_last: bool = False
) -> tuple[tuple[float, float], ...]:
    """GrowthBook's ``getBucketRanges`` with already-effective weights.

    ``close_last`` (native scheme, full coverage) ends the last range at exactly 1.0 so no
    floating-point sliver below 1 is left unassigned.
    """
    coverage = min(max(coverage, 0.0), 1.0)
    cumulative = 0.0
    ranges = []
    for weight in weights:
        start = cumulative
        cumulative += weight
        ranges.append((start, start + coverage * weight))
    if close_last and coverage == 1.0 and ranges:
        ranges[-1] = (ranges[-1][0], 1.0)
    return tuple(ranges)


def choose_variation(n: float, ranges: Sequence[tuple[float, float]]) -> int:
    """Index of the range holding ``n`` (half-open), or -1 when ``n`` is in none."""
    for index, (start, end) in enumerate(ranges):
        if start <= n < end:
            return index
    return -1


def choose_in_sorted_ranges(n: float, starts: Sequence[float], ends: Sequence[float]) -> int:
    """``choose_variation`` in O(log n) for ranges in bucket order (starts never decrease).

    The candidate is the last range starting at or below ``n``; ranges before it end at or
    below its start, except zero-width ones (weight 0), which are skipped backwards.
    """
    index = bisect_right(starts, n) - 1
    while index >= 0 and not n < ends[index]:
        if starts[index] < ends[index]:
            return -1
        index -= 1
    return index
