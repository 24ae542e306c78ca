"""Answers for people reading an experiment: how much better or worse is a variant than the
control, how sure can we be, and how many more visitors would settle it.

Pure functions of counts (conversions, exposures), standard library only. Formulas and which
numbers may be looked at continuously: docs/results.md.

- ``relative_lift``: p_b / p_a - 1 with a fixed-horizon 95% interval (Wald on the log ratio,
  "Katz"). Valid when looked at once, at a sample size chosen in advance.
- ``always_valid_difference``: the mSPRT confidence sequence on p_b - p_a, the same test the
  guardrails run. Valid however often it is looked at: it excludes 0 exactly when the
  guardrails' always-valid p-value at this look is below ``alpha``.
- ``probability_to_beat``: P(p_b > p_a) under independent Beta(1, 1) priors (exact sum).
- ``sample_size_per_arm``: visitors per arm a two-sided two-proportion z-test needs to detect
  a relative ``minimum_effect`` with ``power``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from .stats import difference_in_proportions

__all__ = [
    "Interval",
    "ResultsSettings",
    "always_valid_difference",
    "compare_arms",
    "probability_to_beat",
    "relative_lift",
    "sample_size_per_arm",
]

_NORMAL = NormalDist()
MAX_EXACT_TERMS = 20_000
"""Beyond this many terms the Beta-binomial sum gives way to its normal approximation."""


@dataclass(frozen=True, slots=True)
class ResultsSettings:
    minimum_effect: float = 0.05
    """The smallest relative lift worth detecting (0.05: +5% of the control's rate)."""
    power: float = 0.8
    alpha: float = 0.05
    """Two-sided: the intervals are at 1 - alpha."""


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float


def _z(alpha: float) -> float:
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


def relative_lift(
    conversions_a: int, n_a: int, conversions_b: int, n_b: int, alpha: float = 0.05
) -> Interval | None:
    """p_b / p_a - 1 and its (1 - alpha) interval from log(p_b / p_a) +- z * se, with
    se^2 = 1/x_a - 1/n_a + 1/x_b - 1/n_b. ``None`` while either arm has no conversion."""
    if min(conversions_a, conversions_b) <= 0 or min(n_a, n_b) <= 0:
        return None
    ratio = (conversions_b / n_b) / (conversions_a / n_a)
    se = math.sqrt(1 / conversions_a - 1 / n_a + 1 / conversions_b - 1 / n_b)
    spread = _z(alpha) * se
    return Interval(ratio - 1.0, ratio * math.exp(-spread) - 1.0, ratio * math.exp(spread) - 1.0)


def always_valid_difference(
    conversions_a: int, n_a: int, conversions_b: int, n_b: int, tau_squared: float, alpha: float = 0.05
) -> Interval | None:
    """The mSPRT (1 - alpha) confidence sequence for p_b - p_a at this look: every d0 with
    Lambda(delta - d0) < 1/alpha, where Lambda is ``stats.msprt_likelihood_ratio``. Solved in
    closed form: |delta - d0| < sqrt(2 V (V + t) / t * (ln(1/alpha) + ln((V + t) / V) / 2))."""
    if min(n_a, n_b) <= 0:
        return None
    delta, variance = difference_in_proportions(conversions_a, n_a, conversions_b, n_b)
    total = variance + tau_squared
    half = math.sqrt(
        2.0 * variance * total / tau_squared * (math.log(1.0 / alpha) + 0.5 * math.log(total / variance))
    )
    return Interval(delta, delta - half, delta + half)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _p_y_above_x(a_x: float, b_x: float, a_y: int, b_y: float) -> float:
    """P(Y > X) for X ~ Beta(a_x, b_x), Y ~ Beta(a_y, b_y) with integer a_y: a_y terms."""
    base = _log_beta(a_x, b_x)
    total = 0.0
    for i in range(a_y):
        total += math.exp(_log_beta(a_x + i, b_x + b_y) - math.log(b_y + i) - _log_beta(1 + i, b_y) - base)
    return total


def probability_to_beat(conversions_a: int, n_a: int, conversions_b: int, n_b: int) -> float:
    """P(p_b > p_a) with p ~ Beta(1 + conversions, 1 + non-conversions) per arm.

    Exact (Miller's sum) over the smallest of the four Beta parameters, using
    P(B > A) = 1 - P(A > B) = P(1 - A > 1 - B); beyond ``MAX_EXACT_TERMS`` terms, the normal
    approximation to both posteriors (then exact to about 1e-4 or better)."""
    a_a, b_a = conversions_a + 1, n_a - conversions_a + 1
    a_b, b_b = conversions_b + 1, n_b - conversions_b + 1
    smallest = min(a_a, b_a, a_b, b_b)
    if smallest <= MAX_EXACT_TERMS:
        if smallest == a_b:
            p = _p_y_above_x(a_a, b_a, a_b, b_b)
        elif smallest == a_a:
            p = 1.0 - _p_y_above_x(a_b, b_b, a_a, b_a)
        elif smallest == b_a:
            p = _p_y_above_x(b_b, a_b, b_a, a_a)
        else:
            p = 1.0 - _p_y_above_x(b_a, a_a, b_b, a_b)
        return min(1.0, max(0.0, p))
    mean_a, mean_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    var_a = a_a * b_a / ((a_a + b_a) ** 2 * (a_a + b_a + 1))
    var_b = a_b * b_b / ((a_b + b_b) ** 2 * (a_b + b_b + 1))
    return _NORMAL.cdf((mean_b - mean_a) / math.sqrt(var_a + var_b))


def sample_size_per_arm(baseline: float, minimum_effect: float, alpha: float, power: float) -> int | None:
    """Visitors per arm for a two-sided two-proportion z-test at ``alpha`` to detect
    p2 = baseline * (1 + minimum_effect) with ``power``:

        n = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_power sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2

    ``None`` when the baseline leaves no room for the effect (p2 outside (0, 1))."""
    p1 = baseline
    p2 = baseline * (1.0 + minimum_effect)
    if not (0.0 < p1 < 1.0 and 0.0 < p2 < 1.0) or p1 == p2:
        return None
    pbar = (p1 + p2) / 2.0
    numerator = _z(alpha) * math.sqrt(2.0 * pbar * (1.0 - pbar)) + _NORMAL.inv_cdf(power) * math.sqrt(
        p1 * (1.0 - p1) + p2 * (1.0 - p2)
    )
    return math.ceil(numerator * numerator / ((p2 - p1) ** 2))


def compare_arms(
    control: tuple[int, int], variant: tuple[int, int], settings: ResultsSettings, tau_squared: float
) -> dict[str, object]:
    """Every number for one variant against the control; ``(conversions, exposures)`` each."""
    (x_a, n_a), (x_b, n_b) = control, variant
    lift = relative_lift(x_a, n_a, x_b, n_b, settings.alpha)
    anytime = always_valid_difference(x_a, n_a, x_b, n_b, tau_squared, settings.alpha)
    needed = (
        sample_size_per_arm(x_a / n_a, settings.minimum_effect, settings.alpha, settings.power)
        if n_a
        else None
    )
    return {
        "relative_lift": None if lift is None else lift.estimate,
        "lift_interval": None if lift is None else [lift.low, lift.high],
        "difference": None if anytime is None else anytime.estimate,
        "always_valid_interval": None if anytime is None else [anytime.low, anytime.high],
        "probability_to_beat_control": probability_to_beat(x_a, n_a, x_b, n_b),
        "sample_size_per_arm": needed,
        "sample_still_needed": None if needed is None else max(0, needed - min(n_a, n_b)),
    }
