"""Sequential test, Beta posteriors, Thompson weights and guardrail verdicts, checked against
SciPy where it has an answer and by simulation where it does not."""

from __future__ import annotations

import math
import random

import pytest

from edgesplit.core.bandit import clamp_weights, thompson_weights
from edgesplit.core.guardrail_rules import GuardrailSettings, Totals, evaluate_guardrails
from edgesplit.core.stats import always_valid_p_value, beta_mean, beta_variance, msprt_likelihood_ratio


def test_msprt_ratio_matches_the_mixture_integral_to_1e_9() -> None:
    integrate = pytest.importorskip("scipy.integrate")
    rng = random.Random(11)
    for _ in range(200):
        variance = 10 ** rng.uniform(-7, -3)
        tau_squared = 10 ** rng.uniform(-6, -3)
        delta = rng.gauss(0, math.sqrt(variance) * 2)

        def integrand(
            theta: float, delta: float = delta, v: float = variance, t: float = tau_squared
        ) -> float:
            # N(delta; theta, V) / N(delta; 0, V) * N(theta; 0, tau^2)
            log_ratio = (delta * delta - (delta - theta) ** 2) / (2 * v)
            return math.exp(log_ratio - theta * theta / (2 * t)) / math.sqrt(2 * math.pi * t)

        spread = 12 * math.sqrt(tau_squared)
        numeric, _ = integrate.quad(integrand, -spread, spread, epsabs=0, epsrel=1e-12, limit=500)
        assert msprt_likelihood_ratio(delta, variance, tau_squared) == pytest.approx(numeric, rel=1e-9)


def test_beta_moments_match_scipy_and_samples() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(5)
    for _ in range(100):
        a, b = rng.uniform(0.5, 500), rng.uniform(0.5, 500)
        assert beta_mean(a, b) == pytest.approx(float(scipy_stats.beta(a, b).mean()), rel=1e-9)
        assert beta_variance(a, b) == pytest.approx(float(scipy_stats.beta(a, b).var()), rel=1e-9)
    samples = [rng.betavariate(30, 70) for _ in range(50_000)]
    mean = sum(samples) / len(samples)
    assert abs(mean - beta_mean(30, 70)) < 5 * math.sqrt(beta_variance(30, 70) / len(samples))


def _pauses(
    rate_a: float,
    rate_b: float,
    experiments: int,
    looks: int,
    per_look: int,
    settings: GuardrailSettings,
    seed: int,
) -> list[int]:
    """Simulate experiments monitored after every look; per-arm sample sizes at each pause."""
    numpy = pytest.importorskip("numpy")
    generator = numpy.random.default_rng(seed)
    conv_a = generator.binomial(per_look, rate_a, size=(experiments, looks)).cumsum(axis=1)
    conv_b = generator.binomial(per_look, rate_b, size=(experiments, looks)).cumsum(axis=1)
    paused_at = []
    for e in range(experiments):
        previous: dict[str, float] = {}
        for look in range(looks):
            n = (look + 1) * per_look
            totals = {"a": Totals(n, int(conv_a[e, look])), "b": Totals(n, int(conv_b[e, look]))}
            verdict = evaluate_guardrails([("a", 0.5), ("b", 0.5)], totals, settings, previous)
            previous = verdict.p_values
            if verdict.pause_reason:
                paused_at.append(n)
                break
    return sorted(paused_at)


@pytest.mark.slow
def test_a_a_experiments_monitored_continuously_are_paused_at_most_alpha_of_the_time() -> None:
    settings = GuardrailSettings(alpha=0.05, min_sample=500, metrics=("conversion",), tau=0.01)
    experiments, looks = 1000, 40
    paused = len(_pauses(0.05, 0.05, experiments, looks, 500, settings, seed=2026))
    print(f"A/A: {paused} of {experiments} paused wrongly over {looks} looks (alpha {settings.alpha})")
    assert paused / experiments <= settings.alpha


@pytest.mark.slow
def test_a_ten_percent_relative_regression_at_five_percent_is_caught() -> None:
    settings = GuardrailSettings(alpha=0.05, min_sample=1000, metrics=("conversion",), tau=0.005)
    experiments = 100
    caught_at = _pauses(0.05, 0.045, experiments, 120, 2500, settings, seed=7)
    print(
        f"5.0% vs 4.5%: caught in {len(caught_at)} of {experiments}; visitors per arm at the pause: "
        f"median {caught_at[len(caught_at) // 2] if caught_at else None}, "
        f"90th percentile {caught_at[int(len(caught_at) * 0.9)] if caught_at else None}"
    )
    assert len(caught_at) >= 0.9 * experiments


def test_srm_is_flagged_and_pauses_only_when_configured() -> None:
    totals = {"a": Totals(exposures=52_000), "b": Totals(exposures=48_000)}
    flag_only = evaluate_guardrails([("a", 0.5), ("b", 0.5)], totals, GuardrailSettings(), {})
    assert flag_only.srm and flag_only.srm_p < 0.001 and flag_only.pause_reason is None
    pausing = evaluate_guardrails([("a", 0.5), ("b", 0.5)], totals, GuardrailSettings(pause_on_srm=True), {})
    assert pausing.pause_reason is not None and pausing.pause_reason.startswith("sample ratio mismatch")
    fine = evaluate_guardrails(
        [("a", 0.5), ("b", 0.5)],
        {"a": Totals(50_100), "b": Totals(49_900)},
        GuardrailSettings(pause_on_srm=True),
        {},
    )
    assert not fine.srm and fine.pause_reason is None


def test_error_rate_harm_pauses_but_improvement_does_not() -> None:
    settings = GuardrailSettings(min_sample=200, metrics=("errors",))
    worse = {"a": Totals(requests=2000, errors=20), "b": Totals(requests=2000, errors=400)}
    verdict = evaluate_guardrails([("a", 0.5), ("b", 0.5)], worse, settings, {})
    assert verdict.pause_reason is not None and "errors harm in variant 'b'" in verdict.pause_reason
    better = {"a": Totals(requests=2000, errors=400), "b": Totals(requests=2000, errors=20)}
    assert evaluate_guardrails([("a", 0.5), ("b", 0.5)], better, settings, {}).pause_reason is None
    small = {"a": Totals(requests=100, errors=0), "b": Totals(requests=100, errors=90)}
    assert evaluate_guardrails([("a", 0.5), ("b", 0.5)], small, settings, {}).pause_reason is None


def test_always_valid_p_values_never_rise() -> None:
    rng = random.Random(3)
    previous = 1.0
    for n in range(100, 5000, 100):
        p = always_valid_p_value(rng.randint(0, n // 10), n, rng.randint(0, n // 10), n, 1e-4, previous)
        assert p <= previous
        previous = p


@pytest.mark.parametrize(
    "weights,low,high",
    [([0.97, 0.02, 0.01], 0.05, 0.9), ([0.5, 0.5], 0.1, 0.9), ([1.0, 0.0, 0.0, 0.0], 0.1, 0.7)],
)
def test_clamped_weights_respect_bounds_and_sum_to_one(weights: list[float], low: float, high: float) -> None:
    clamped = clamp_weights(weights, low, high)
    assert math.isclose(sum(clamped), 1.0) and all(low - 1e-12 <= w <= high + 1e-12 for w in clamped)


def test_thompson_favours_the_better_arm_within_bounds() -> None:
    weights = thompson_weights(
        [5000, 5000, 5000], [250, 300, 200], random.Random(1), min_weight=0.05, max_weight=0.9
    )
    assert weights[1] == max(weights) and weights[1] > 0.8 and min(weights) >= 0.05 - 1e-12
    even = thompson_weights([0, 0], [0, 0], random.Random(2))
    assert abs(even[0] - 0.5) < 0.05
