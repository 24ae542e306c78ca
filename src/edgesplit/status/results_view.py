"""The status report's answers for one experiment: each variant against the control."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.experiments import Experiment
from ..core.guardrail_rules import GuardrailSettings, Totals
from ..core.results import compare_arms

__all__ = ["experiment_results", "mixing_tau"]


def mixing_tau(experiment: Experiment) -> float:
    """The always-valid interval's mixing scale: the guardrails' own ``tau``."""
    return (experiment.guardrails or GuardrailSettings()).tau


def experiment_results(experiment: Experiment, totals: Mapping[str, Totals]) -> dict[str, Any]:
    """``settings`` (what the numbers aim at) and one row per non-control variant."""
    settings = experiment.results
    tau = mixing_tau(experiment)
    control = totals.get(experiment.control.key, Totals())
    rows = []
    for variant in experiment.variants[1:]:
        arm = totals.get(variant.key, Totals())
        numbers = compare_arms(
            (control.conversions, control.exposures), (arm.conversions, arm.exposures), settings, tau * tau
        )
        rows.append({"variant": variant.key, **numbers})
    return {
        "control": experiment.control.key,
        "confidence": 1.0 - settings.alpha,
        "minimum_effect": settings.minimum_effect,
        "power": settings.power,
        "tau": tau,
        "variants": rows,
    }
