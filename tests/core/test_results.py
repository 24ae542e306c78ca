"""The result numbers against SciPy and statsmodels, and the intervals' coverage in simulation.

Every simulation is seeded: the same numbers come out on every run and every machine.
"""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core.results import (
    ResultsSettings,
    always_valid_difference,
    compare_arms,
    probability_to_beat,
    relative_lift,
    sample_size_per_arm,
)
from edgesplit.core.stats import always_valid_p_value, difference_in_proportions, msprt_likelihood_ratio

np = pytest.importorskip("numpy")
scipy_stats = pytest.importorskip("scipy.stats")
scipy_optimize = pytest.importorskip("scipy.optimize")
scipy_integrate = pytest.importorskip("scipy.integrate")
proportion = pytest.importorskip("statsmodels.stats.proportion")

COUNTS = [
    (120, 1000, 150, 1000),
    (7, 300, 3, 280),
    (4812, 50000, 5011, 50100),
    (1, 10, 9, 10),
    (33, 34, 1, 40),
]


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), COUNTS)
@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_relative_lift_matches_statsmodels_log_ratio_interval(
    x_a: int, n_a: int, x_b: int, n_b: int, alpha: float
) -> None:
    lift = relative_lift(x_a, n_a, x_b, n_b, alpha)
    low, high = proportion.confint_proportions_2indep(
        x_b, n_b, x_a, n_a, method="log", compare="ratio", alpha=alpha
    )
    assert lift is not None
    assert lift.estimate == pytest.approx((x_b / n_b) / (x_a / n_a) - 1, abs=1e-12)
    assert lift.low == pytest.approx(low - 1, abs=1e-9)
    assert lift.high == pytest.approx(high - 1, abs=1e-9)


def test_relative_lift_needs_a_conversion_in_each_arm() -> None:
    assert relative_lift(0, 100, 5, 100) is None
    assert relative_lift(5, 100, 0, 100) is None
    assert relative_lift(5, 0, 5, 100) is None


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), [*COUNTS, (0, 50, 0, 60)])
@pytest.mark.parametrize(("tau", "alpha"), [(0.01, 0.05), (0.05, 0.01), (0.002, 0.1)])
def test_always_valid_interval_is_where_the_msprt_ratio_reaches_one_over_alpha(
    x_a: int, n_a: int, x_b: int, n_b: int, tau: float, alpha: float
) -> None:
    interval = always_valid_difference(x_a, n_a, x_b, n_b, tau * tau, alpha)
    delta, variance = difference_in_proportions(x_a, n_a, x_b, n_b)

    def excess(d0: float) -> float:
        return msprt_likelihood_ratio(delta - d0, variance, tau * tau) - 1 / alpha

    width = 1000.0
    high = scipy_optimize.brentq(excess, delta, delta + width, xtol=1e-15, rtol=1e-15)
    low = scipy_optimize.brentq(excess, delta - width, delta, xtol=1e-15, rtol=1e-15)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=1e-9)
    assert interval.high == pytest.approx(high, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5000),
    st.integers(1, 5000),
    st.floats(0, 1),
    st.floats(0, 1),
    st.sampled_from([0.001, 0.01, 0.05]),
)
def test_always_valid_interval_excludes_zero_exactly_when_the_guardrail_p_value_is_below_alpha(
    n_a: int, n_b: int, rate_a: float, rate_b: float, tau: float
) -> None:
    x_a, x_b = round(n_a * rate_a), round(n_b * rate_b)
    interval = always_valid_difference(x_a, n_a, x_b, n_b, tau * tau, 0.05)
    p_value = always_valid_p_value(x_a, n_a, x_b, n_b, tau * tau)
    assert interval is not None
    if abs(p_value - 0.05) > 1e-9:
        assert (not interval.low <= 0 <= interval.high) == (p_value < 0.05)


def _quad_probability(x_a: int, n_a: int, x_b: int, n_b: int) -> float:
    a = scipy_stats.beta(x_a + 1, n_a - x_a + 1)
    b = scipy_stats.beta(x_b + 1, n_b - x_b + 1)
    centre = (x_b + 1) / (n_b + 2)
    value, _ = scipy_integrate.quad(
        lambda p: b.pdf(p) * a.cdf(p), 0, 1, points=[centre], epsabs=1e-13, epsrel=1e-13, limit=500
    )
    return value


# Each case makes a different Beta parameter the smallest, so each branch of the sum is checked.
@pytest.mark.parametrize(
    ("x_a", "n_a", "x_b", "n_b"),
    [
        (12, 200, 20, 210),
        (3, 200, 30, 210),
        (190, 200, 180, 210),
        (150, 200, 205, 210),
        (0, 0, 0, 0),
        (50, 400, 50, 400),
    ],
)
def test_probability_to_beat_matches_numerical_integration(x_a: int, n_a: int, x_b: int, n_b: int) -> None:
    assert probability_to_beat(x_a, n_a, x_b, n_b) == pytest.approx(
        _quad_probability(x_a, n_a, x_b, n_b), abs=1e-9
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400), st.floats(0, 1), st.floats(0, 1))
def test_probability_to_beat_is_complementary(n_a: int, n_b: int, rate_a: float, rate_b: float) -> None:
    x_a, x_b = round(n_a * rate_a), round(n_b * rate_b)
    both = probability_to_beat(x_a, n_a, x_b, n_b) + probability_to_beat(x_b, n_b, x_a, n_a)
    assert both == pytest.approx(1.0, abs=1e-9)


def test_probability_to_beat_with_large_counts_agrees_with_monte_carlo() -> None:
    rng = np.random.default_rng(20261201)
    draws = 2_000_000
    for x_a, n_a, x_b, n_b in [(30_000, 300_000, 30_400, 300_000), (52_000, 400_000, 51_700, 400_000)]:
        a = rng.beta(x_a + 1, n_a - x_a + 1, draws)
        b = rng.beta(x_b + 1, n_b - x_b + 1, draws)
        estimate = float(np.mean(b > a))
        error = math.sqrt(estimate * (1 - estimate) / draws)
        assert abs(probability_to_beat(x_a, n_a, x_b, n_b) - estimate) < 4 * error + 1e-3


@pytest.mark.parametrize("baseline", [0.01, 0.1, 0.35])
@pytest.mark.parametrize("effect", [0.02, 0.1, -0.2])
@pytest.mark.parametrize(("alpha", "power"), [(0.05, 0.8), (0.01, 0.9)])
def test_sample_size_matches_statsmodels(baseline: float, effect: float, alpha: float, power: float) -> None:
    power_module = pytest.importorskip("statsmodels.stats.power")
    p2 = baseline * (1 + effect)
    # statsmodels' normal_sample_size_one_tail with the pooled sd under the null, the unpooled
    # sd under the alternative, alpha halved for the two-sided test: the same closed form.
    std_null = math.sqrt(2 * ((baseline + p2) / 2) * (1 - (baseline + p2) / 2))
    std_alt = math.sqrt(baseline * (1 - baseline) + p2 * (1 - p2))
    expected = power_module.normal_sample_size_one_tail(
        p2 - baseline, power, alpha / 2, std_null=std_null, std_alternative=std_alt
    )
    assert sample_size_per_arm(baseline, effect, alpha, power) == math.ceil(expected - 1e-9)


def test_sample_size_is_none_when_the_effect_cannot_exist() -> None:
    assert sample_size_per_arm(0.0, 0.1, 0.05, 0.8) is None
    assert sample_size_per_arm(0.95, 0.1, 0.05, 0.8) is None


def test_sample_size_gives_the_power_it_promises() -> None:
    """At the computed n, a two-proportion z-test (statsmodels) rejects with the stated power."""
    n = sample_size_per_arm(0.1, 0.1, 0.05, 0.8)
    assert n is not None
    rng = np.random.default_rng(7)
    sims = 4000
    a = rng.binomial(n, 0.1, sims)
    b = rng.binomial(n, 0.11, sims)
    stat_module = pytest.importorskip("statsmodels.stats.proportion")
    rejected = sum(
        stat_module.proportions_ztest([int(y), int(x)], [n, n])[1] < 0.05 for x, y in zip(a, b, strict=True)
    )
    share = rejected / sims
    assert abs(share - 0.8) < 4 * math.sqrt(0.8 * 0.2 / sims)


def test_compare_arms_reports_what_is_still_needed() -> None:
    numbers = compare_arms((100, 1000), (120, 1000), ResultsSettings(0.1, 0.8, 0.05), 1e-4)
    needed = sample_size_per_arm(0.1, 0.1, 0.05, 0.8)
    assert numbers["sample_size_per_arm"] == needed
    assert numbers["sample_still_needed"] == needed - 1000
    assert numbers["lift_interval"][0] < 0.2 < numbers["lift_interval"][1]
    assert compare_arms((0, 0), (0, 0), ResultsSettings(), 1e-4)["relative_lift"] is None


# --- coverage: the simulations live in bench/results_coverage.py (they print the docs' figures) ---

SIMS = 2000


def _coverage_module() -> ModuleType:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "results_coverage.py"
    spec = importlib.util.spec_from_file_location("results_coverage", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.SIMS >= 2000
    return module


@pytest.mark.parametrize(("rate_a", "lift"), [(0.1, 0.0), (0.1, 0.15), (0.03, -0.2)])
def test_fixed_horizon_lift_interval_covers_95_percent(rate_a: float, lift: float) -> None:
    cover = _coverage_module().fixed_horizon(rate_a, lift, 8000, 1000 + round(lift * 100))
    assert abs(cover - 0.95) <= 0.015, cover


@pytest.mark.parametrize(("rate_a", "rate_b"), [(0.1, 0.1), (0.1, 0.115)])
def test_always_valid_interval_covers_at_every_look_while_the_fixed_one_does_not(
    rate_a: float, rate_b: float
) -> None:
    """Looked at 25 times as the data come in: the always-valid interval still holds the true
    difference at every look in at least 95% - 1.5% of experiments; the fixed-horizon interval,
    peeked at the same way, misses far more often (why the page labels them apart)."""
    always, peeking = _coverage_module().sequential(rate_a, rate_b, 25, 400, 42 if rate_a == rate_b else 43)
    assert always >= 0.95 - 0.015, always
    assert peeking < 0.9, peeking


def test_probability_to_beat_is_calibrated_under_the_prior() -> None:
    """Drawing true rates from the Beta(1, 1) prior, the variant beats the control in a share
    of experiments equal to the average stated probability (within Monte Carlo error)."""
    rng = np.random.default_rng(99)
    n = 200
    true_a, true_b = rng.uniform(size=SIMS), rng.uniform(size=SIMS)
    x_a, x_b = rng.binomial(n, true_a), rng.binomial(n, true_b)
    stated = np.array([probability_to_beat(int(p), n, int(q), n) for p, q in zip(x_a, x_b, strict=True)])
    for low, high in [(0.0, 0.2), (0.2, 0.8), (0.8, 1.0)]:
        chosen = (stated >= low) & (stated < high)
        observed = float(np.mean((true_b > true_a)[chosen]))
        expected = float(np.mean(stated[chosen]))
        assert abs(observed - expected) < 4 * math.sqrt(0.25 / chosen.sum()) + 0.01
