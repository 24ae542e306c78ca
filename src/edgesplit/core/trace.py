"""The decision trace: why each experiment decided what it did for one request. Pure.

For the people debugging (admin token or signed debug cookie only, see pipeline/trace.py):
per experiment the variant and reason, whether the path and the ``when`` rule matched (with
the rule), the visitor's bucket value, namespace placement, coverage, status and holdout
membership.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .assignment import Assignment
from .config import Config
from .experiments import Experiment

__all__ = ["MAX_TRACE_BYTES", "explain", "trace_header_value"]

MAX_TRACE_BYTES = 8 * 1024
"""Header values past a few KiB are refused by some proxies: larger traces are shortened."""


def _hash_value(experiment: Experiment, visitor_id: str, attributes: Mapping[str, Any]) -> str | None:
    if experiment.hash_attribute == "id":
        return visitor_id or None
    value = attributes.get(experiment.hash_attribute)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def _undecided(targeting: Mapping[str, Any]) -> str:
    """No assignment: nothing applied to the request, or deciding failed (served open)."""
    return "not_targeted" if not (targeting["path"] and targeting.get("when", True)) else "no_decision"


def _explain_one(
    experiment: Experiment,
    visitor_id: str,
    attributes: Mapping[str, Any],
    path: str,
    assignment: Assignment | None,
) -> dict[str, Any]:
    targeting: dict[str, Any] = {
        "path": experiment.path_matcher is None or bool(experiment.path_matcher(path))
    }
    if experiment.condition is not None:
        targeting["when"] = bool(experiment.condition(attributes))
        targeting["rule"] = experiment.condition_source
    entry: dict[str, Any] = {
        "variant": assignment.variant if assignment else None,
        "reason": assignment.reason if assignment else _undecided(targeting),
        "in": bool(assignment and assignment.in_experiment),
        "status": experiment.status,
        "coverage": experiment.coverage,
        "targeting": targeting,
    }
    value = _hash_value(experiment, visitor_id, attributes)
    if value is not None:
        entry["bucket"] = round(experiment.hasher(value), 6)
        if experiment.namespace is not None and experiment.namespace_hasher is not None:
            ns = experiment.namespace
            entry["namespace"] = {
                "id": ns.id,
                "range": [ns.start, ns.end],
                "value": round(experiment.namespace_hasher(value), 6),
            }
    return entry


def explain(
    config: Config, visitor_id: str, attributes: Mapping[str, Any], assignments: Mapping[str, Assignment]
) -> dict[str, Any]:
    """Every experiment of the config, with what decided it for this visitor and request."""
    path = attributes.get("path", "/")
    path = path if isinstance(path, str) else "/"
    experiments = {
        experiment.key: _explain_one(
            experiment, visitor_id, attributes, path, assignments.get(experiment.key)
        )
        for experiment in config.experiments
    }
    holdout = config.holdout
    if holdout is not None and visitor_id:
        for key, entry in experiments.items():
            if holdout.covers(key):
                entry["holdout"] = holdout.contains(visitor_id)
    return {"config_version": config.version, "visitor": visitor_id, "experiments": experiments}


def _dump(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, sort_keys=True, default=str)


def trace_header_value(doc: dict[str, Any], cache: str) -> str:
    """Compact ASCII JSON for the ``x-edgesplit-trace`` header, at most ``MAX_TRACE_BYTES``:
    first the rules go, then the details, then experiments (``"truncated": true``)."""
    doc = {**doc, "cache": cache}
    text = _dump(doc)
    if len(text) <= MAX_TRACE_BYTES:
        return text
    short = {k: [e["variant"], e["reason"], e.get("bucket")] for k, e in doc["experiments"].items()}
    doc = {**doc, "experiments": short, "detail": "short"}
    text = _dump(doc)
    while len(text) > MAX_TRACE_BYTES and short:
        short.popitem()
        doc["truncated"] = True
        text = _dump(doc)
    return text
