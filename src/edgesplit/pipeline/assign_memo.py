"""``assign`` for a visitor who comes back page after page: hashing every experiment again for the
same visitor on the same path gives the same assignments, so they are remembered per visitor.

Only configs whose assignments can depend on nothing but the visitor id, the path, the sticky
variants and the session pins are memoised: no ``when`` condition, no hash attribute other than
the id, no QA overrides (they read the query and cookies). Any other config is assigned afresh
every time. A hit is only taken for the very config object it was computed from (a reload, even
to an equal config, starts over), like the other memos in ``memo.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Assignment, Config, assign
from .memo import BoundedMemo

__all__ = ["AssignMemo", "memoisable"]

MemoKey = tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


def memoisable(config: Config) -> bool:
    """Whether ``assign`` reads nothing of the request but its path for this config."""
    return not config.overrides.enabled and all(
        experiment.condition is None and experiment.hash_attribute == "id"
        for experiment in config.experiments
    )


def _frozen(variants: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(variants.items())) if variants else ()


class AssignMemo:
    """``assign(config, visitor_id, attributes, sticky, pins)``, remembered per visitor."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._memo: BoundedMemo[MemoKey, tuple[Config, dict[str, Assignment]]] = BoundedMemo(max_entries)
        self._traits: tuple[Config, bool, bool] | None = None

    def _config_traits(self, config: Config) -> tuple[Config, bool, bool]:
        """(config, memoisable, has a bandit), worked out once per config object."""
        known = self._traits
        if known is None or known[0] is not config:
            bandits = any(experiment.bandit is not None for experiment in config.experiments)
            known = self._traits = (config, memoisable(config), bandits)
        return known

    def assign(
        self,
        config: Config,
        visitor_id: str,
        attributes: Mapping[str, Any],
        sticky: Mapping[str, str] | None,
        pins: Mapping[str, str] | None,
    ) -> dict[str, Assignment]:
        path = attributes.get("path", "/")
        _, eligible, bandits = self._config_traits(config)
        if not eligible or not visitor_id or path.__class__ is not str:
            return assign(config, visitor_id, attributes, sticky, pins)
        # Sticky variants are only read for bandits; leaving them out otherwise keeps the hit
        # rate up as the visitor's cookie is refreshed.
        key: MemoKey = (visitor_id, path, _frozen(sticky) if bandits else (), _frozen(pins))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is config:
            return dict(hit[1])
        assignments = assign(config, visitor_id, attributes, sticky, pins)
        self._memo.put(key, (config, dict(assignments)))
        return assignments
