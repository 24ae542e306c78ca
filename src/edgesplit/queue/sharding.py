"""Which queue shard an event goes to: spread evenly, the same visitor always to one shard."""

from __future__ import annotations

import hashlib

__all__ = ["shard_for", "shard_name"]


def shard_for(key: str, shards: int) -> int:
    """A stable shard index in ``range(shards)`` for ``key`` (a visitor id)."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    digest = hashlib.blake2s(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(index: int) -> str:
    return f"queue-shard-{index}"
