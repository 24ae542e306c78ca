"""OpenFeature Remote Evaluation Protocol (OFREP) answers, decided by the core. Pure.

Experiments are flags. A flag's value is the variant key (a string); an experiment with
exactly two variants also answers as the boolean flag ``<key>:on`` (true when the visitor gets
the second variant), the reading the in-process OpenFeature provider gives. The evaluation
context's ``targetingKey`` is the visitor id; its other attributes feed targeting (``path``
for path patterns, anything a ``when`` condition or a ``hash_attribute`` names).

Shapes follow open-feature/protocol ``service/openapi.yaml``: ``evaluationSuccess``
(``key``, ``value``, ``reason``, ``variant``, ``metadata``), ``evaluationFailure`` and
``flagNotFound`` (``key``, ``errorCode``, ``errorDetails``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .assignment import Assignment
from .config import Config
from .experiments import Experiment

__all__ = [
    "BOOLEAN_SUFFIX",
    "OfrepError",
    "evaluation_context",
    "flag_result",
    "bulk_results",
    "resolve_flag_key",
]

BOOLEAN_SUFFIX = ":on"
MAX_TARGETING_KEY = 256
RESERVED_ATTRIBUTES = frozenset({"query", "cookie", "header"})
"""Request-only attributes: an OFREP client cannot pose as a query string or cookie (forced
variants come from those) or as headers edgesplit itself vouches for."""

_REASONS = {
    "bucketed": "SPLIT",
    "sticky": "SPLIT",
    "pinned": "SPLIT",
    "forced": "STATIC",
    "paused": "DISABLED",
    "stopped": "DISABLED",
}


class OfrepError(Exception):
    """An ``evaluationFailure``: ``code`` is an OpenFeature error code."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def evaluation_context(body: Any) -> tuple[str, dict[str, Any]]:
    """``(visitor id, targeting attributes)`` from a decoded request body, or ``OfrepError``."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise OfrepError("PARSE_ERROR", "the request body must be a JSON object")
    context = body.get("context", {})
    if not isinstance(context, dict):
        raise OfrepError("INVALID_CONTEXT", "context must be a JSON object")
    key = context.get("targetingKey")
    if key is None or key == "":
        raise OfrepError("TARGETING_KEY_MISSING", "context.targetingKey (the visitor id) is required")
    if not isinstance(key, str) or len(key) > MAX_TARGETING_KEY:
        raise OfrepError(
            "INVALID_CONTEXT", f"targetingKey must be a string of 1-{MAX_TARGETING_KEY} characters"
        )
    attributes = {
        name: value
        for name, value in context.items()
        if name != "targetingKey" and name not in RESERVED_ATTRIBUTES
    }
    if not isinstance(attributes.get("path", "/"), str) or not str(attributes.get("path", "/")).startswith(
        "/"
    ):
        raise OfrepError("INVALID_CONTEXT", "context.path must be a path starting with '/'")
    return key, attributes


def resolve_flag_key(config: Config, flag_key: str) -> tuple[Experiment, bool] | None:
    """The experiment a flag key names and whether it is the boolean reading, or ``None``."""
    boolean = flag_key.endswith(BOOLEAN_SUFFIX)
    experiment = config.experiment(flag_key[: -len(BOOLEAN_SUFFIX)] if boolean else flag_key)
    if experiment is None or (boolean and len(experiment.variants) != 2):
        return None
    return experiment, boolean


def flag_result(
    experiment: Experiment, assignment: Assignment, boolean: bool, metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """One ``evaluationSuccess``. An experiment that does not apply answers its control, with
    reason ``DEFAULT`` (what a page outside the experiment renders)."""
    variant = assignment.variant if assignment.variant is not None else experiment.control.key
    value: str | bool = variant != experiment.control.key if boolean else variant
    return {
        "key": experiment.key + (BOOLEAN_SUFFIX if boolean else ""),
        "value": value,
        "reason": _REASONS.get(assignment.reason, "DEFAULT"),
        "variant": variant,
        "metadata": {
            "experiment": experiment.key,
            "inExperiment": assignment.in_experiment,
            "edgesplitReason": assignment.reason,
            **metadata,
        },
    }


def bulk_results(
    config: Config, assignments: Mapping[str, Assignment], metadata: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every flag: each experiment's string flag, and the boolean one of two-variant experiments."""
    flags = []
    for experiment in config.experiments:
        assignment = assignments[experiment.key]
        flags.append(flag_result(experiment, assignment, False, metadata))
        if len(experiment.variants) == 2:
            flags.append(flag_result(experiment, assignment, True, metadata))
    return flags
