"""The shared-state port: what the cluster updater and the status page need from a store that
every proxy sees. Async, so a slow store never blocks the event loop; every method raises
``StateUnavailable`` (and nothing else) when the store cannot be reached in time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ClusterCounts", "Changes", "CountBatch", "CountRow", "Lease", "StatePort", "StateUnavailable"]

CountRow = tuple[str, str, float, dict[str, float]]
"""``(experiment, variant, epoch seconds, {field: amount})``, as the counts recorder drains them."""


class StateUnavailable(Exception):
    """The shared store did not answer (down, slow, refused): callers fail open."""


@dataclass(frozen=True)
class CountBatch:
    """One proxy's drained counts. ``seq`` grows per proxy: a batch sent again after an unsure
    failure (a timeout after the store applied it) is recognised and not counted twice."""

    proxy: str
    seq: int
    rows: list[CountRow]


@dataclass(frozen=True)
class Lease:
    """The updater's lease: ``token`` is the fencing token, larger for every new holder."""

    owner: str
    token: int


@dataclass
class ClusterCounts:
    """The cluster's numbers for some experiments, read at one point in time."""

    totals: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """experiment -> variant -> field (``COUNT_FIELDS``) -> all-time sum."""
    hours: dict[str, list[tuple[int, str, dict[str, float]]]] = field(default_factory=dict)
    """experiment -> ``(hour bucket, variant, {"exposures", "conversions"})`` for recent hours."""
    state: dict[str, dict[str, float]] = field(default_factory=dict)
    """experiment (or ``COUNTS_META``) -> the guardrail state (sequential p-values, clocks)."""
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """experiment -> ``{"at", "kind", "detail"}``, newest first."""


@dataclass
class Changes:
    """What one updater pass writes, all or nothing."""

    state: dict[str, dict[str, float]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """experiment -> new actions, oldest first."""


class StatePort(Protocol):
    async def add_counts(self, batch: CountBatch) -> None:
        """Add the batch atomically, once (a repeated ``(proxy, seq)`` is ignored)."""

    async def read(self, experiments: list[str], now: float) -> ClusterCounts:
        """The cluster's counts, guardrail state and history for ``experiments``."""

    async def acquire_lease(self, owner: str, ttl_seconds: float) -> Lease | None:
        """The updater lease for ``ttl_seconds`` if nobody holds it (it is not released: at
        most one holder acts per ttl), else None."""

    async def commit(
        self, lease: Lease, changes: Changes, config_text: str | None, config_version: int
    ) -> bool:
        """Write ``changes`` and, if given, the new config document (its version bumped), all
        or nothing, only while ``lease`` is still the current one and the document is still at
        ``config_version``. False when refused."""

    async def config(self) -> tuple[int, str] | None:
        """The published config document and its version, None if none was published."""

    async def config_version(self) -> int:
        """The published document's version alone (cheap; 0 when none)."""

    async def seed_config(self, text: str) -> bool:
        """Publish ``text`` only if no document is published yet (the first proxy's file)."""

    async def push_config(self, text: str) -> int:
        """Publish ``text`` (already validated) as the new document; returns its version."""

    async def report(self, proxy: str, report: dict[str, Any], now: float, ttl_seconds: float) -> None:
        """This proxy's numbers (queue depth, buffered counts, whether it is behind)."""

    async def reports(self, now: float, forget_after: float) -> dict[str, dict[str, Any] | None]:
        """Every proxy seen in the last ``forget_after`` seconds -> its live report, or None
        when its report expired (it is down or cut off)."""

    async def leave(self, proxy: str) -> None:
        """A proxy stopping cleanly: it no longer counts as missing."""

    async def close(self) -> None: ...
