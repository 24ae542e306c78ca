"""The status report's holdout section: per held-out experiment, the holdout against the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Config
from ..core.guardrail_rules import Totals
from ..core.holdout import HOLDOUT_VARIANT
from ..core.results import compare_arms
from .results_view import mixing_tau

__all__ = ["holdout_report"]


def _arm(exposures: int, conversions: int) -> dict[str, Any]:
    return {
        "exposures": exposures,
        "conversions": conversions,
        "conversion_rate": conversions / exposures if exposures else None,
    }


def holdout_report(config: Config, totals: Mapping[str, Mapping[str, Totals]]) -> dict[str, Any] | None:
    """``None`` without a holdout. The rest is every variant of the experiment together; the
    comparison reads the holdout as the control, so a positive lift is what shipping gained."""
    holdout = config.holdout
    if holdout is None:
        return None
    rows = []
    for experiment in config.experiments:
        if not holdout.covers(experiment.key):
            continue
        counts = totals.get(experiment.key, {})
        held = counts.get(HOLDOUT_VARIANT, Totals())
        rest = [counts.get(variant.key, Totals()) for variant in experiment.variants]
        rest_exposures = sum(t.exposures for t in rest)
        rest_conversions = sum(t.conversions for t in rest)
        comparison = compare_arms(
            (held.conversions, held.exposures),
            (rest_conversions, rest_exposures),
            experiment.results,
            mixing_tau(experiment) ** 2,
        )
        rows.append(
            {
                "experiment": experiment.key,
                "holdout": _arm(held.exposures, held.conversions),
                "rest": _arm(rest_exposures, rest_conversions),
                "rest_vs_holdout": comparison,
            }
        )
    return {
        "share": holdout.share,
        "seed": holdout.seed,
        "experiments": None if holdout.experiments is None else sorted(holdout.experiments),
        "by_experiment": rows,
    }
