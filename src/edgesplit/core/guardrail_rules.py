"""Guardrails: is an experiment broken (sample ratio mismatch) or harmful (a variant loses
conversions or breaks pages)? Pure: totals and the previous looks' p-values come in, a verdict
goes out. No "winner" is ever declared: guardrails only pause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .stats import always_valid_p_value, chi_square_goodness_of_fit

__all__ = ["GuardrailSettings", "Totals", "Verdict", "evaluate_guardrails"]


@dataclass(frozen=True, slots=True)
class GuardrailSettings:
    srm_p: float = 0.001
    """Below this chi-square p-value the split is flagged as a sample ratio mismatch."""
    pause_on_srm: bool = False
    alpha: float = 0.05
    """The always-valid p-value below which a harmful difference pauses the experiment."""
    min_sample: int = 1000
    """Per arm, before any action."""
    metrics: tuple[str, ...] = ("conversion", "errors")
    tau: float = 0.01
    """Scale of the differences worth detecting (absolute rate); the mSPRT mixing sd."""


@dataclass(frozen=True, slots=True)
class Totals:
    exposures: int = 0
    conversions: int = 0
    requests: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    srm_p: float
    srm: bool
    p_values: dict[str, float] = field(default_factory=dict)
    """``"metric:variant"`` -> always-valid p-value after this look (feed back as ``previous``)."""
    harm: list[dict[str, object]] = field(default_factory=list)
    pause_reason: str | None = None


def evaluate_guardrails(
    variants: list[tuple[str, float]],
    totals: Mapping[str, Totals],
    settings: GuardrailSettings,
    previous: Mapping[str, float],
) -> Verdict:
    """``variants`` are (key, configured weight), the control first."""
    exposures = [totals.get(key, Totals()).exposures for key, _ in variants]
    _, srm_p = chi_square_goodness_of_fit(exposures, [weight for _, weight in variants])
    srm = sum(exposures) > 0 and srm_p < settings.srm_p
    control_key = variants[0][0]
    control = totals.get(control_key, Totals())
    p_values: dict[str, float] = {}
    harm: list[dict[str, object]] = []
    for key, _ in variants[1:]:
        arm = totals.get(key, Totals())
        for metric in settings.metrics:
            if metric == "conversion":
                base = (control.conversions, control.exposures)
                this = (arm.conversions, arm.exposures)
                harmful_sign = -1.0  # fewer conversions is harm
            else:
                base = (control.errors, control.requests)
                this = (arm.errors, arm.requests)
                harmful_sign = 1.0  # more errors is harm
            name = f"{metric}:{key}"
            if min(base[1], this[1]) < settings.min_sample:
                p_values[name] = previous.get(name, 1.0)
                continue
            p_value = always_valid_p_value(
                base[0], base[1], this[0], this[1], settings.tau**2, previous.get(name, 1.0)
            )
            p_values[name] = p_value
            delta = this[0] / this[1] - base[0] / base[1]
            if p_value < settings.alpha and delta * harmful_sign > 0:
                harm.append(
                    {
                        "metric": metric,
                        "variant": key,
                        "p_value": p_value,
                        "control_rate": base[0] / base[1],
                        "variant_rate": this[0] / this[1],
                        "control_n": base[1],
                        "variant_n": this[1],
                    }
                )
    reason = None
    if harm:
        worst = min(harm, key=lambda h: _number(h["p_value"]))
        reason = (
            f"{worst['metric']} harm in variant {worst['variant']!r}: "
            f"{_number(worst['variant_rate']):.4f} vs {_number(worst['control_rate']):.4f} "
            f"(always-valid p={_number(worst['p_value']):.2g})"
        )
    elif srm and settings.pause_on_srm:
        reason = f"sample ratio mismatch: exposures {exposures} vs weights (chi-square p={srm_p:.2g})"
    return Verdict(srm_p, srm, p_values, harm, reason)


def _number(value: object) -> float:
    assert isinstance(value, (int, float))
    return float(value)
