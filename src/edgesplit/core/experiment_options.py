"""An experiment's optional guardrail, bandit and pause sections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .guardrail_rules import GuardrailSettings
from .results import ResultsSettings
from .validation import Reader, child_path

__all__ = ["BanditSettings", "parse_bandit", "parse_guardrails", "parse_pause", "parse_results"]

METRICS = ("conversion", "errors")


@dataclass(frozen=True, slots=True)
class BanditSettings:
    """Thompson sampling on conversions; weights move every ``update_interval_seconds``,
    each variant held within [min_weight, max_weight]. Visitors keep their variant."""

    min_weight: float = 0.05
    max_weight: float = 0.95
    update_interval_seconds: int = 3600


def parse_guardrails(reader: Reader, value: Any, path: str) -> GuardrailSettings | None:
    obj = reader.expect_object(
        value, path, optional=("srm_p", "pause_on_srm", "alpha", "min_sample", "metrics", "tau")
    )
    if obj is None:
        return None
    d = GuardrailSettings()
    srm_p = reader.expect_number(
        obj.get("srm_p", d.srm_p), child_path(path, "srm_p"), minimum=1e-12, maximum=0.5
    )
    pause = reader.expect_bool(obj.get("pause_on_srm", d.pause_on_srm), child_path(path, "pause_on_srm"))
    alpha = reader.expect_number(
        obj.get("alpha", d.alpha), child_path(path, "alpha"), minimum=1e-9, maximum=0.5
    )
    minimum = reader.expect_number(
        obj.get("min_sample", d.min_sample), child_path(path, "min_sample"), minimum=1, integer=True
    )
    tau = reader.expect_number(obj.get("tau", d.tau), child_path(path, "tau"), minimum=1e-6, maximum=1)
    metrics = reader.expect_list(
        obj.get("metrics", list(d.metrics)), child_path(path, "metrics"), max_items=2
    )
    checked = [
        reader.expect_choice(m, child_path(child_path(path, "metrics"), i), METRICS)
        for i, m in enumerate(metrics or [])
    ]
    if srm_p is None or pause is None or alpha is None or minimum is None or tau is None:
        return None
    if metrics is None or None in checked:
        return None
    return GuardrailSettings(
        float(srm_p), bool(pause), float(alpha), int(minimum), tuple(m for m in checked if m), float(tau)
    )


def parse_bandit(reader: Reader, value: Any, path: str, variant_count: int) -> BanditSettings | None:
    obj = reader.expect_object(value, path, optional=("min_weight", "max_weight", "update_interval_seconds"))
    if obj is None:
        return None
    d = BanditSettings()
    low = reader.expect_number(
        obj.get("min_weight", d.min_weight), child_path(path, "min_weight"), minimum=0, maximum=1
    )
    high = reader.expect_number(
        obj.get("max_weight", d.max_weight), child_path(path, "max_weight"), minimum=0, maximum=1
    )
    interval = reader.expect_number(
        obj.get("update_interval_seconds", d.update_interval_seconds),
        child_path(path, "update_interval_seconds"),
        minimum=10,
        integer=True,
    )
    if low is None or high is None or interval is None:
        return None
    if variant_count and not low <= 1 / variant_count <= high:
        reader.fail(path, f"min_weight <= 1/{variant_count} <= max_weight must hold")
        return None
    return BanditSettings(float(low), float(high), int(interval))


def parse_pause(reader: Reader, value: Any, path: str) -> Mapping[str, Any] | None:
    """Who paused, when, why, with which numbers: written by the guardrail, kept for people."""
    obj = reader.expect_object(value, path, required=("by", "at", "reason"), optional=("numbers",))
    if obj is None or not {"by", "at", "reason"} <= obj.keys():
        return None
    for name in ("by", "at", "reason"):
        reader.expect_str(obj[name], child_path(path, name), max_length=1000)
    return dict(obj)


def parse_results(reader: Reader, value: Any, path: str) -> ResultsSettings | None:
    """What the status page's sample-size answer aims at: the minimum relative effect worth
    detecting, the power, and the two-sided alpha of every interval it shows."""
    obj = reader.expect_object(value, path, optional=("minimum_effect", "power", "alpha"))
    if obj is None:
        return None
    d = ResultsSettings()
    effect = reader.expect_number(
        obj.get("minimum_effect", d.minimum_effect),
        child_path(path, "minimum_effect"),
        minimum=1e-4,
        maximum=10,
    )
    power = reader.expect_number(
        obj.get("power", d.power), child_path(path, "power"), minimum=0.5, maximum=0.999
    )
    alpha = reader.expect_number(
        obj.get("alpha", d.alpha), child_path(path, "alpha"), minimum=1e-6, maximum=0.5
    )
    if effect is None or power is None or alpha is None:
        return None
    return ResultsSettings(float(effect), float(power), float(alpha))
