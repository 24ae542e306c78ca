"""Statistics the core needs, in closed forms that are exact enough to match SciPy to 1e-9.

Standard library only (``math``), so they run at the edge as they do here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["chi2_sf", "chi_square_goodness_of_fit"]


def chi2_sf(x: float, df: int) -> float:
    """Survival function P(X >= x) of the chi-square distribution with integer ``df`` >= 1.

    Uses the finite series of the regularised upper incomplete gamma function for integer and
    half-integer shapes: for even ``df`` a Poisson tail, for odd ``df`` ``erfc`` plus a series.
    """
    if df < 1 or int(df) != df:
        raise ValueError("df must be a positive integer")
    if x <= 0:
        return 1.0
    half = x / 2.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    if df > 1:
        # term_i = half^(i - 1/2) / Gamma(i + 1/2), for i = 1 .. (df-1)/2
        term = math.sqrt(half) / math.gamma(1.5)
        series = term
        for i in range(2, (df - 1) // 2 + 1):
            term *= half / (i - 0.5)
            series += term
        total += math.exp(-half) * series
    return min(1.0, total)


def chi_square_goodness_of_fit(
    observed: Sequence[float], expected_shares: Sequence[float]
) -> tuple[float, float]:
    """Pearson's statistic and p-value of ``observed`` counts against expected shares.

    Categories with an expected share of 0 are left out (they carry no degrees of freedom);
    returns ``(0.0, 1.0)`` when there is nothing to test.
    """
    if len(observed) != len(expected_shares):
        raise ValueError("observed and expected_shares differ in length")
    total = float(sum(observed))
    share_total = float(sum(expected_shares))
    cells = [(o, s / share_total) for o, s in zip(observed, expected_shares, strict=True) if s > 0]
    if total <= 0 or len(cells) < 2:
        return 0.0, 1.0
    statistic = sum((o - total * share) ** 2 / (total * share) for o, share in cells)
    return statistic, chi2_sf(statistic, len(cells) - 1)


def msprt_likelihood_ratio(delta: float, variance: float, tau_squared: float) -> float:
    """The mixture sequential probability ratio for an observed difference ``delta`` whose
    estimate has ``variance``, under a normal mixing distribution N(0, tau^2) over the true
    difference (Johari, Pekelis & Walsh, "Always valid inference", 2017):

        Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * delta^2 / (2 V (V + tau^2)))
    """
    if variance <= 0:
        return 1.0
    total = variance + tau_squared
    exponent = tau_squared * delta * delta / (2.0 * variance * total)
    return math.sqrt(variance / total) * math.exp(min(exponent, 700.0))


def difference_in_proportions(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float]:
    """``(p_b - p_a, Var)``: the observed difference, and its unpooled variance p(1-p)/n per arm
    with p smoothed by half a success (Jeffreys), so an arm at 0% or 100% still has variance."""
    p_a, p_b = successes_a / n_a, successes_b / n_b
    s_a, s_b = (successes_a + 0.5) / (n_a + 1.0), (successes_b + 0.5) / (n_b + 1.0)
    return p_b - p_a, s_a * (1 - s_a) / n_a + s_b * (1 - s_b) / n_b


def always_valid_p_value(
    successes_a: int, n_a: int, successes_b: int, n_b: int, tau_squared: float, previous: float = 1.0
) -> float:
    """The mSPRT always-valid p-value after this look: ``min(previous, 1 / Lambda)``.

    Valid however often it is computed: the chance it ever drops below alpha under the null is
    at most alpha, so continuous monitoring raises no extra false alarms.
    """
    if n_a <= 0 or n_b <= 0:
        return previous
    delta, variance = difference_in_proportions(successes_a, n_a, successes_b, n_b)
    return min(previous, 1.0 / msprt_likelihood_ratio(delta, variance, tau_squared))


def beta_mean(alpha: float, beta: float) -> float:
    return alpha / (alpha + beta)


def beta_variance(alpha: float, beta: float) -> float:
    total = alpha + beta
    return alpha * beta / (total * total * (total + 1.0))
