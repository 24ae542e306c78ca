"""Every default the two shells share, written once.

The Worker's variables (``edge/settings.py``), the Durable Objects, the self-hosted proxy's
options (``local/service.py``) and the command line (``cli.py``, ``nginx/cli.py``) all read
their defaults from here, so the same deployment behaves the same on either shell.
``tests/test_defaults.py`` fails when one of these values is written as a literal again.

Imports nothing: every layer may use it.
"""

from __future__ import annotations

__all__ = [
    "CONFIG_KEY",
    "CONFIG_TTL_SECONDS",
    "DIRECT_SEND_TIMEOUT_SECONDS",
    "DRAIN_BACKOFF_SECONDS",
    "DRAIN_BATCHES_PER_RUN",
    "DRAIN_MAX_BACKOFF_SECONDS",
    "DRAIN_PACE_SECONDS",
    "DRAIN_TIMEOUT_SECONDS",
    "EDGE_QUEUE_SHARDS",
    "LOCAL_QUEUE_SHARDS",
    "ORIGIN_TIMEOUT_SECONDS",
    "QUEUE_DIR",
    "QUEUE_DROP",
    "QUEUE_DROP_POLICIES",
    "QUEUE_MAX_AGE_SECONDS",
    "QUEUE_MAX_BYTES",
    "QUEUE_MAX_EVENTS",
]

# The durable event queue: bounds per shard and vendor.
QUEUE_MAX_EVENTS = 100_000
QUEUE_MAX_BYTES = 64 * 1024 * 1024
QUEUE_MAX_AGE_SECONDS = 7 * 86_400.0
QUEUE_DROP_POLICIES = ("oldest", "newest")
QUEUE_DROP = QUEUE_DROP_POLICIES[0]

# Draining a shard (one alarm's work).
DRAIN_BATCHES_PER_RUN = 10
DRAIN_PACE_SECONDS = 1.0
DRAIN_BACKOFF_SECONDS = 1.0
DRAIN_MAX_BACKOFF_SECONDS = 300.0
DRAIN_TIMEOUT_SECONDS = 10.0
"""Per vendor request from the queue (nobody waits on it)."""
DIRECT_SEND_TIMEOUT_SECONDS = 2.0
"""Per vendor request on the direct path, beside live traffic: short, the queue is behind it."""

# Shards: a Durable Object each at the edge (cheap, spread across the network); a SQLite file
# each self-hosted (one machine's disk).
EDGE_QUEUE_SHARDS = 8
LOCAL_QUEUE_SHARDS = 4

QUEUE_DIR = "edgesplit-queue"
"""The self-hosted proxy's folder of queue shards and guardrail counts."""

ORIGIN_TIMEOUT_SECONDS = 30.0
"""Until the origin's response headers (and, self-hosted, between body reads); then 504."""

# The edge's config document in KV.
CONFIG_KEY = "config.json"
CONFIG_TTL_SECONDS = 30.0
