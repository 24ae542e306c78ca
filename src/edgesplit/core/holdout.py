"""The global holdout: a fixed share of visitors who get the control of every experiment (or
of a listed set), so the long-run effect of everything shipped can be measured against them.

    "holdout": {"share": 0.05, "seed": "holdout-2026", "experiments": ["hero", "price"]}

Membership is a hash of the visitor id with the holdout seed (its own hash domain), so it is
the same on every request, every runtime, and independent of experiment and namespace hashes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .assignment import Assignment
from .events import exposure_event
from .hashing import Hasher, make_holdout_hasher
from .validation import Reader, child_path

__all__ = ["Holdout", "HOLDOUT_VARIANT", "holdout_assignments", "holdout_exposures", "parse_holdout"]

MAX_SHARE = 0.5
HOLDOUT_VARIANT = "__holdout__"
"""The counts row under which held-out visitors' exposures and conversions are kept (never a
variant key: keys start with a letter or digit)."""


@dataclass(frozen=True, slots=True)
class Holdout:
    share: float
    seed: str
    experiments: frozenset[str] | None
    """The experiments held out; ``None``: every experiment."""
    hasher: Hasher = field(compare=False, repr=False)

    def contains(self, visitor_id: str) -> bool:
        return bool(visitor_id) and self.hasher(visitor_id) < self.share

    def covers(self, experiment: str) -> bool:
        return self.experiments is None or experiment in self.experiments


def parse_holdout(reader: Reader, value: Any, path: str, experiment_keys: Collection[str]) -> Holdout | None:
    obj = reader.expect_object(value, path, required=("share", "seed"), optional=("experiments",))
    if obj is None or not {"share", "seed"} <= obj.keys():
        return None
    share = reader.expect_number(obj["share"], child_path(path, "share"), minimum=0, maximum=MAX_SHARE)
    seed = reader.expect_str(obj["seed"], child_path(path, "seed"), max_length=256)
    listed: frozenset[str] | None = None
    ok = share is not None and seed is not None
    if "experiments" in obj:
        list_path = child_path(path, "experiments")
        items = reader.expect_list(obj["experiments"], list_path, min_items=1, max_items=1000)
        if items is None:
            return None
        for i, item in enumerate(items):
            key = reader.expect_str(item, child_path(list_path, i), max_length=64)
            if key is not None and key not in experiment_keys:
                reader.fail(child_path(list_path, i), f"no experiment has the key {key!r}")
                ok = False
            elif key is None:
                ok = False
        listed = frozenset(items)
    if not ok or seed is None or share is None:
        return None
    return Holdout(float(share), seed, listed, make_holdout_hasher(seed))


def holdout_assignments(experiments: Collection[str]) -> dict[str, str]:
    """How events name a held-out visitor's arm: ``HOLDOUT_VARIANT``, never the control key, so
    neither edgesplit's counts nor a vendor's analysis mixes the holdout into the control."""
    return dict.fromkeys(sorted(experiments), HOLDOUT_VARIANT)


def holdout_exposures(
    visitor_id: str,
    assignments: Mapping[str, Assignment],
    config_version: str,
    now: float,
    window_seconds: int,
    timestamp: str,
) -> tuple[dict[str, Any], ...]:
    """One exposure per experiment the visitor is held out of, marked ``holdout: true``."""
    return tuple(
        exposure_event(visitor_id, key, HOLDOUT_VARIANT, config_version, now, window_seconds, timestamp)
        | {"holdout": True}
        for key, a in assignments.items()
        if a.reason == "holdout"
    )
