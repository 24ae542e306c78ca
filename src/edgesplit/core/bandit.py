"""Thompson sampling weights for bandit experiments. Pure: the caller hands in the rng.

Each arm's conversion rate has a Beta(1 + conversions, 1 + exposures - conversions)
posterior; the weight of an arm is the share of ``draws`` joint posterior samples in which it
is best, then held within ``[min_weight, max_weight]`` so no arm is starved or takes all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["BetaSampler", "clamp_weights", "thompson_weights"]


class BetaSampler(Protocol):
    """What the caller hands in for randomness (``random.Random`` satisfies it)."""

    def betavariate(self, alpha: float, beta: float) -> float: ...


def clamp_weights(weights: Sequence[float], min_weight: float, max_weight: float) -> list[float]:
    """Weights summing to 1 with each in [min_weight, max_weight] (water-filling)."""
    count = len(weights)
    if not 0 <= min_weight <= 1 / count <= max_weight <= 1:
        raise ValueError("bounds must allow equal weights: min <= 1/n <= max")
    result = list(weights)
    fixed: dict[int, float] = {}
    for _ in range(count + 1):
        free = [i for i in range(count) if i not in fixed]
        budget = 1.0 - sum(fixed.values())
        total = sum(result[i] for i in free)
        for i in free:
            result[i] = budget * result[i] / total if total > 0 else budget / len(free)
        changed = False
        for i in free:
            if result[i] < min_weight:
                fixed[i], changed = min_weight, True
            elif result[i] > max_weight:
                fixed[i], changed = max_weight, True
        for i, value in fixed.items():
            result[i] = value
        if not changed:
            break
    return result


def thompson_weights(
    exposures: Sequence[int],
    conversions: Sequence[int],
    rng: BetaSampler,
    *,
    draws: int = 2000,
    min_weight: float = 0.0,
    max_weight: float = 1.0,
) -> list[float]:
    wins = [0] * len(exposures)
    posteriors = [(1.0 + c, 1.0 + max(0, n - c)) for n, c in zip(exposures, conversions, strict=True)]
    for _ in range(draws):
        samples = [rng.betavariate(a, b) for a, b in posteriors]
        wins[samples.index(max(samples))] += 1
    return clamp_weights([w / draws for w in wins], min_weight, max_weight)
