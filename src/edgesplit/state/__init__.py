"""Shared state for several self-hosted proxies: the counts, the one guardrail/bandit updater's
lease, the published config document (pauses, bandit weights) and every proxy's report, behind
one small port (``port.StatePort``) with a SQLite backend (one machine) and a Redis backend."""

from .open import open_state
from .port import ClusterCounts, CountBatch, Lease, StatePort, StateUnavailable

__all__ = ["ClusterCounts", "CountBatch", "Lease", "StatePort", "StateUnavailable", "open_state"]
