"""Deciding every experiment's variant for one visitor. Pure: same inputs, same answer.

For each experiment, in order (mirroring GrowthBook's ``run`` so the GrowthBook schemes agree):

1. not targeted (path patterns, ``when`` condition) -> no variant at all (``variant=None``);
2. a forced variant (QA overrides enabled in the config) -> that variant, not "in" it;
3. paused or stopped -> the control, not in the experiment;
4. no value for the hash attribute -> the control, not in;
5. outside the namespace range -> the control, not in;
6. hash outside every bucket range (coverage) -> the control, not in;
7. otherwise the bucketed variant, in the experiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .bucketing import choose_variation
from .config import Config
from .experiments import Experiment

__all__ = ["Assignment", "assign", "parse_forced_variants", "REASONS"]

REASONS = (
    "not_targeted", "forced", "paused", "stopped", "no_hash_attribute", "namespace", "coverage",
    "bucketed",
)
MAX_FORCED_LENGTH = 2048
_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Assignment:
    experiment: str
    variant: str | None
    """The variant key, or ``None`` when the experiment does not apply to this request."""
    index: int | None
    in_experiment: bool
    """True only when the visitor was bucketed: the visitor counts in the analysis."""
    reason: str


def parse_forced_variants(text: Any) -> dict[str, str]:
    """``"hero:bold,price:b"`` -> ``{"hero": "bold", "price": "b"}``; junk is ignored."""
    if not isinstance(text, str) or len(text) > MAX_FORCED_LENGTH:
        return {}
    forced: dict[str, str] = {}
    for pair in text.split(","):
        experiment, sep, variant = pair.strip().partition(":")
        if sep and experiment and variant:
            forced[experiment] = variant
    return forced


def _forced(config: Config, attributes: Mapping[str, Any]) -> dict[str, str]:
    overrides = config.overrides
    if not overrides.enabled:
        return {}
    query = attributes.get("query", _EMPTY)
    cookies = attributes.get("cookie", _EMPTY)
    raw = query.get(overrides.query_param) if isinstance(query, Mapping) else None
    if raw is None and isinstance(cookies, Mapping):
        raw = cookies.get(overrides.cookie)
    return parse_forced_variants(raw)


def _control(experiment: Experiment, reason: str) -> Assignment:
    return Assignment(experiment.key, experiment.control.key, 0, False, reason)


def _assign_one(
    experiment: Experiment, visitor_id: str, path: str, attributes: Mapping[str, Any],
    forced: Mapping[str, str],
) -> Assignment:
    if not experiment.targets(path, attributes):
        return Assignment(experiment.key, None, None, False, "not_targeted")
    forced_variant = forced.get(experiment.key)
    if forced_variant is not None and forced_variant in experiment.variant_index:
        return Assignment(experiment.key, forced_variant, experiment.variant_index[forced_variant],
                          False, "forced")
    if not experiment.running:
        return _control(experiment, experiment.status)
    if experiment.hash_attribute == "id":
        hash_value: Any = visitor_id
    else:
        hash_value = attributes.get(experiment.hash_attribute)
        if isinstance(hash_value, int) and not isinstance(hash_value, bool):
            hash_value = str(hash_value)
    if not isinstance(hash_value, str) or not hash_value:
        return _control(experiment, "no_hash_attribute")
    if experiment.namespace is not None:
        assert experiment.namespace_hasher is not None
        position = experiment.namespace_hasher(hash_value)
        if not experiment.namespace.start <= position < experiment.namespace.end:
            return _control(experiment, "namespace")
    index = choose_variation(experiment.hasher(hash_value), experiment.ranges)
    if index < 0:
        return _control(experiment, "coverage")
    return Assignment(experiment.key, experiment.variants[index].key, index, True, "bucketed")


def assign(
    config: Config, visitor_id: str, attributes: Mapping[str, Any] | None = None
) -> dict[str, Assignment]:
    """Every experiment's assignment for this visitor, keyed by experiment key.

    ``attributes`` describe the request and visitor: ``path`` (default ``/``), ``host``,
    ``country``, ``device``, nested ``query``/``cookie``/``header`` mappings, and any custom
    attribute an experiment hashes on (``hash_attribute``) or targets (``when``).
    """
    attributes = attributes if attributes is not None else _EMPTY
    path = attributes.get("path", "/")
    if not isinstance(path, str):
        path = "/"
    forced = _forced(config, attributes)
    return {
        experiment.key: _assign_one(experiment, visitor_id, path, attributes, forced)
        for experiment in config.experiments
    }
