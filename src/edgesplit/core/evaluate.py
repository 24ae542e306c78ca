"""Deciding every experiment's variant for one visitor. Pure: same inputs, same answer.

For each experiment, in order (mirroring GrowthBook's ``run`` so the GrowthBook schemes agree):

1. not targeted (path patterns, ``when`` condition) -> no variant at all (``variant=None``);
2. a forced variant (QA overrides enabled in the config) -> that variant, not "in" it;
3. paused or stopped -> the control, not in the experiment;
   in the global holdout (``config.holdout``) -> the control, not in (reason ``holdout``);
4. no value for the hash attribute -> the control, not in;
5. outside the namespace range -> the control, not in;
6. hash outside every bucket range (coverage) -> the control, not in;
7. otherwise the bucketed variant, in the experiment.

Every outcome is built when the config loads (``Experiment.outcomes``), so this hot path only
hashes, compares and looks up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .assignment import REASONS, Assignment
from .bucketing import choose_in_sorted_ranges
from .config import Config
from .experiments import Experiment

__all__ = [
    "Assignment",
    "assign",
    "assign_control",
    "is_targeted",
    "parse_forced_variants",
    "REASONS",
]

MAX_FORCED_LENGTH = 2048
_EMPTY: Mapping[str, Any] = {}


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
    query = attributes.get("query", _EMPTY)
    cookies = attributes.get("cookie", _EMPTY)
    raw = query.get(overrides.query_param) if isinstance(query, Mapping) else None
    if raw is None and isinstance(cookies, Mapping):
        raw = cookies.get(overrides.cookie)
    return parse_forced_variants(raw)


def _hash_value(experiment: Experiment, attributes: Mapping[str, Any]) -> str | None:
    value = attributes.get(experiment.hash_attribute)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) else None


def _assign_one(
    experiment: Experiment,
    visitor_id: str,
    path: str,
    attributes: Mapping[str, Any],
    forced: Mapping[str, str],
    sticky: Mapping[str, str],
    pinned: Mapping[str, str],
    held_out: bool = False,
) -> Assignment:
    outcomes = experiment.outcomes
    # 1. Targeting.
    matcher, condition = experiment.path_matcher, experiment.condition
    if (matcher is not None and not matcher(path)) or (condition is not None and not condition(attributes)):
        return outcomes.not_targeted
    # 2. Forced variants.
    if forced:
        forced_outcome = outcomes.forced.get(forced.get(experiment.key, ""))
        if forced_outcome is not None:
            return forced_outcome
    # 3. Status.
    if experiment.status != "running":
        return outcomes.control[experiment.status]
    if held_out:
        return outcomes.control["holdout"]
    # 3b. Bandits: a visitor already exposed keeps the variant it saw while the weights move.
    if sticky and experiment.bandit is not None:
        kept = outcomes.sticky.get(sticky.get(experiment.key, ""))
        if kept is not None:
            return kept
    # 3c. Session pins: after the browser saw drift, the session keeps its first variant.
    if pinned:
        kept = outcomes.pinned.get(pinned.get(experiment.key, ""))
        if kept is not None:
            return kept
    # 4. Hash attribute.
    value = visitor_id if experiment.hash_attribute == "id" else _hash_value(experiment, attributes)
    if not value:
        return outcomes.control["no_hash_attribute"]
    # 5. Namespace.
    namespace = experiment.namespace
    if namespace is not None and not namespace.start <= experiment.namespace_hasher(value) < namespace.end:  # type: ignore[misc]
        return outcomes.control["namespace"]
    # 6-7. Bucket ranges (half-open); outside every range means outside coverage.
    index = choose_in_sorted_ranges(experiment.hasher(value), outcomes.range_starts, outcomes.range_ends)
    return outcomes.bucketed[index] if index >= 0 else outcomes.control["coverage"]


def assign(
    config: Config,
    visitor_id: str,
    attributes: Mapping[str, Any] | None = None,
    sticky: Mapping[str, str] | None = None,
    pinned: Mapping[str, str] | None = None,
) -> dict[str, Assignment]:
    """Every experiment's assignment for this visitor, keyed by experiment key.

    ``attributes`` describe the request and visitor: ``path`` (default ``/``), ``host``,
    ``country``, ``device``, nested ``query``/``cookie``/``header`` mappings, and any custom
    attribute an experiment hashes on (``hash_attribute``) or targets (``when``). ``sticky``
    (experiment -> variant, from the visitor's verified decision cookie) keeps bandit visitors
    in the variant they saw; ``pinned`` (from a verified session pin) keeps any running
    experiment's variant for the rest of a browser session.
    """
    if attributes is None:
        attributes = _EMPTY
    path = attributes.get("path", "/")
    if path.__class__ is not str:
        path = "/"
    forced = _forced(config, attributes) if config.overrides.enabled else _EMPTY
    holdout = config.holdout
    in_holdout = holdout is not None and holdout.contains(visitor_id)
    result = {}
    for experiment in config.experiments:
        result[experiment.key] = _assign_one(
            experiment,
            visitor_id,
            path,
            attributes,
            forced,
            sticky or _EMPTY,
            pinned or _EMPTY,
            in_holdout and holdout.covers(experiment.key),  # type: ignore[union-attr]
        )
    return result


def _path(attributes: Mapping[str, Any]) -> str:
    path = attributes.get("path", "/")
    return path if isinstance(path, str) else "/"


def is_targeted(config: Config, attributes: Mapping[str, Any]) -> bool:
    """Whether any experiment applies to this request (before any visitor is known)."""
    path = _path(attributes)
    return any(experiment.targets(path, attributes) for experiment in config.experiments)


def assign_control(config: Config, attributes: Mapping[str, Any], reason: str) -> dict[str, Assignment]:
    """The control for every experiment that applies, out of the experiment (bots, prefetches)."""
    path = _path(attributes)
    return {
        experiment.key: Assignment(experiment.key, experiment.control.key, 0, False, reason)
        if experiment.targets(path, attributes)
        else experiment.outcomes.not_targeted
        for experiment in config.experiments
    }
