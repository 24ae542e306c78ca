"""One experiment's configuration, validated and compiled for fast evaluation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .assignment import Assignment
from .bucketing import bucket_ranges, effective_weights
from .conditions import Condition, compile_condition
from .experiment_options import BanditSettings, parse_bandit, parse_guardrails, parse_pause, parse_results
from .guardrail_rules import GuardrailSettings
from .hashing import HASH_SCHEMES, Hasher, make_hasher, make_namespace_hasher
from .paths import PathPatternError, compile_path_patterns
from .results import ResultsSettings
from .validation import Reader, child_path
from .variant_actions import VARIANT_ACTION_FIELDS, VariantActions, parse_variant_actions

__all__ = ["Experiment", "Namespace", "Outcomes", "Variant", "parse_experiment", "KEY_PATTERN"]

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KEY_HELP = "1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
ATTRIBUTE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
STATUSES = ("running", "paused", "stopped")
MAX_VARIANTS = 64
MAX_PATH_PATTERNS = 256


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    weight: float
    """The configured weight over the sum of all weights (0..1)."""
    actions: VariantActions | None = None
    """Rewrite, redirect or HTML changes applied at the edge (core/variant_actions.py)."""


@dataclass(frozen=True, slots=True)
class Namespace:
    id: str
    start: float
    end: float

    def overlaps(self, other: Namespace) -> bool:
        return self.id == other.id and self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Experiment:
    key: str
    variants: tuple[Variant, ...]
    coverage: float
    status: str
    hash: str
    seed: str
    hash_attribute: str
    namespace: Namespace | None
    paths: tuple[str, ...]
    exclude_paths: tuple[str, ...]
    condition_source: Mapping[str, Any] | None
    guardrails: GuardrailSettings | None = field(default=None, compare=False, kw_only=True)
    bandit: BanditSettings | None = field(default=None, compare=False, kw_only=True)
    pause: Mapping[str, Any] | None = field(default=None, compare=False, kw_only=True)
    results: ResultsSettings = field(default=ResultsSettings(), compare=False, kw_only=True)
    # Compiled once at load time; not part of equality.
    ranges: tuple[tuple[float, float], ...] = field(compare=False, repr=False)
    hasher: Hasher = field(compare=False, repr=False)
    namespace_hasher: Hasher | None = field(compare=False, repr=False)
    path_matcher: Any = field(compare=False, repr=False)
    condition: Condition | None = field(compare=False, repr=False)
    variant_index: Mapping[str, int] = field(compare=False, repr=False)
    # Every possible outcome, built once: deciding then allocates nothing.
    outcomes: Outcomes = field(compare=False, repr=False)

    @property
    def control(self) -> Variant:
        return self.variants[0]

    @property
    def running(self) -> bool:
        return self.status == "running"

    def targets(self, path: str, attributes: Mapping[str, Any]) -> bool:
        if self.path_matcher is not None and not self.path_matcher(path):
            return False
        return self.condition is None or self.condition(attributes)


@dataclass(frozen=True, slots=True)
class Outcomes:
    not_targeted: Assignment
    control: Mapping[str, Assignment]
    """Reason -> the control assignment given for that reason."""
    bucketed: tuple[Assignment, ...]
    forced: Mapping[str, Assignment]
    """Variant key -> the assignment a forced variant gives."""
    sticky: Mapping[str, Assignment]
    """Variant key -> the assignment a bandit visitor keeps while weights move."""
    pinned: Mapping[str, Assignment]
    """Variant key -> the assignment kept for the session after the browser saw drift."""
    range_starts: tuple[float, ...]
    range_ends: tuple[float, ...]

    @classmethod
    def build(cls, key: str, variant_keys: list[str], ranges: tuple[tuple[float, float], ...]) -> Outcomes:
        control = variant_keys[0]
        reasons = ("paused", "stopped", "no_hash_attribute", "namespace", "coverage", "holdout")
        return cls(
            not_targeted=Assignment(key, None, None, False, "not_targeted"),
            control={reason: Assignment(key, control, 0, False, reason) for reason in reasons},
            bucketed=tuple(Assignment(key, v, i, True, "bucketed") for i, v in enumerate(variant_keys)),
            forced={v: Assignment(key, v, i, False, "forced") for i, v in enumerate(variant_keys)},
            sticky={v: Assignment(key, v, i, True, "sticky") for i, v in enumerate(variant_keys)},
            pinned={v: Assignment(key, v, i, True, "pinned") for i, v in enumerate(variant_keys)},
            range_starts=tuple(start for start, _ in ranges),
            range_ends=tuple(end for _, end in ranges),
        )


def _key(reader: Reader, obj: Mapping[str, Any], path: str) -> str | None:
    """The ``key`` field of an experiment or variant (its absence is reported as required)."""
    if "key" not in obj:
        return None
    return reader.expect_str(
        obj["key"], child_path(path, "key"), max_length=64, pattern=KEY_PATTERN, pattern_help=KEY_HELP
    )


def _variants(reader: Reader, value: Any, path: str) -> list[tuple[str, float, VariantActions | None]] | None:
    items = reader.expect_list(value, path, min_items=2, max_items=MAX_VARIANTS)
    if items is None:
        return None
    parsed: list[tuple[str, float, VariantActions | None]] = []
    seen: dict[str, int] = {}
    ok = True
    for i, item in enumerate(items):
        here = child_path(path, i)
        obj = reader.expect_object(item, here, required=("key",), optional=("weight", *VARIANT_ACTION_FIELDS))
        if obj is None:
            ok = False
            continue
        key = _key(reader, obj, here)
        weight = reader.expect_number(obj.get("weight", 1), child_path(here, "weight"), minimum=0)
        actions = parse_variant_actions(reader, obj, here)
        if key is not None and key in seen:
            reader.fail(child_path(here, "key"), f"duplicates {path}[{seen[key]}].key {key!r}")
            key = None
        elif key is not None:
            seen[key] = i
        if key is None or weight is None:
            ok = False
            continue
        parsed.append((key, float(weight), actions))
    if ok and sum(weight for _, weight, _ in parsed) <= 0:
        reader.fail(path, "weights must not all be 0")
        return None
    if ok and not sum(weight for _, weight, _ in parsed) < float("inf"):
        reader.fail(path, "weights must have a finite sum")
        return None
    return parsed if ok else None


def _namespace(reader: Reader, value: Any, path: str) -> Namespace | None:
    obj = reader.expect_object(value, path, required=("id", "range"))
    if obj is None or "id" not in obj or "range" not in obj:
        return None
    ns_id = reader.expect_str(
        obj["id"], child_path(path, "id"), max_length=64, pattern=KEY_PATTERN, pattern_help=KEY_HELP
    )
    range_path = child_path(path, "range")
    bounds = reader.expect_list(obj["range"], range_path, min_items=2, max_items=2)
    if ns_id is None or bounds is None:
        return None
    start = reader.expect_number(bounds[0], child_path(range_path, 0), minimum=0, maximum=1)
    end = reader.expect_number(bounds[1], child_path(range_path, 1), minimum=0, maximum=1)
    if start is None or end is None:
        return None
    if not start < end:
        reader.fail(range_path, "start must be below end")
        return None
    return Namespace(ns_id, float(start), float(end))


def _patterns(reader: Reader, value: Any, path: str) -> tuple[str, ...] | None:
    items = reader.expect_list(value, path, max_items=MAX_PATH_PATTERNS)
    if items is None:
        return None
    ok = True
    for i, item in enumerate(items):
        here = child_path(path, i)
        pattern = reader.expect_str(item, here, max_length=1024)
        if pattern is None:
            ok = False
            continue
        try:
            compile_path_patterns([pattern])
        except PathPatternError as exc:
            reader.fail(here, str(exc))
            ok = False
    return tuple(items) if ok else None


_EXPERIMENT_FIELDS = (
    "guardrails",
    "bandit",
    "pause",
    "results",
    "coverage",
    "status",
    "hash",
    "seed",
    "hash_attribute",
    "namespace",
    "targeting",
)


def parse_experiment(reader: Reader, value: Any, path: str) -> Experiment | None:
    """Validate one experiment; every problem goes to ``reader``."""
    before = len(reader.problems)
    obj = reader.expect_object(value, path, required=("key", "variants"), optional=_EXPERIMENT_FIELDS)
    if obj is None:
        return None
    key = _key(reader, obj, path)
    variants = _variants(reader, obj["variants"], child_path(path, "variants")) if "variants" in obj else None
    coverage = reader.expect_number(
        obj.get("coverage", 1), child_path(path, "coverage"), minimum=0, maximum=1
    )
    status = reader.expect_choice(obj.get("status", "running"), child_path(path, "status"), STATUSES)
    scheme = reader.expect_choice(obj.get("hash", "edgesplit"), child_path(path, "hash"), HASH_SCHEMES)
    seed = reader.expect_str(obj["seed"], child_path(path, "seed"), max_length=256) if "seed" in obj else key
    hash_attribute = reader.expect_str(
        obj.get("hash_attribute", "id"),
        child_path(path, "hash_attribute"),
        max_length=64,
        pattern=ATTRIBUTE_PATTERN,
        pattern_help="an attribute name such as 'id' or 'user_id'",
    )
    namespace = (
        _namespace(reader, obj["namespace"], child_path(path, "namespace")) if "namespace" in obj else None
    )

    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    condition: Condition | None = None
    condition_source = None
    if "targeting" in obj:
        tpath = child_path(path, "targeting")
        targeting = reader.expect_object(obj["targeting"], tpath, optional=("paths", "exclude_paths", "when"))
        if targeting is not None:
            paths = _patterns(reader, targeting.get("paths", []), child_path(tpath, "paths")) or ()
            exclude = (
                _patterns(reader, targeting.get("exclude_paths", []), child_path(tpath, "exclude_paths"))
                or ()
            )
            if "when" in targeting:
                condition_source = targeting["when"]
                condition = compile_condition(condition_source, child_path(tpath, "when"), reader)

    guardrails = (
        parse_guardrails(reader, obj["guardrails"], child_path(path, "guardrails"))
        if "guardrails" in obj
        else None
    )
    bandit = (
        parse_bandit(reader, obj["bandit"], child_path(path, "bandit"), len(variants or []))
        if "bandit" in obj
        else None
    )
    pause = parse_pause(reader, obj["pause"], child_path(path, "pause")) if "pause" in obj else None
    results = parse_results(reader, obj["results"], child_path(path, "results")) if "results" in obj else None

    if len(reader.problems) > before:
        return None
    assert key is not None and variants is not None and coverage is not None
    assert status is not None and scheme is not None and seed is not None and hash_attribute is not None
    weights = effective_weights([weight for _, weight, _ in variants], scheme)
    total = sum(weight for _, weight, _ in variants)
    ranges = bucket_ranges(weights, float(coverage), close_last=scheme == "edgesplit")
    return Experiment(
        key=key,
        variants=tuple(Variant(vkey, weight / total, actions) for vkey, weight, actions in variants),
        coverage=float(coverage),
        status=status,
        hash=scheme,
        seed=seed,
        hash_attribute=hash_attribute,
        namespace=namespace,
        paths=paths,
        exclude_paths=exclude,
        condition_source=condition_source,
        ranges=ranges,
        hasher=make_hasher(scheme, seed),
        namespace_hasher=make_namespace_hasher(scheme, namespace.id) if namespace else None,
        path_matcher=compile_path_patterns(paths, exclude),
        condition=condition,
        variant_index={vkey: i for i, (vkey, _, _) in enumerate(variants)},
        guardrails=guardrails,
        bandit=bandit,
        pause=pause,
        results=results or ResultsSettings(),
        outcomes=Outcomes.build(key, [vkey for vkey, _, _ in variants], ranges),
    )
