"""``--workers``: how many proxy processes ``edgesplit serve`` runs (without importing aiohttp:
the CLI builds its help text from this)."""

from __future__ import annotations

import argparse
import os

__all__ = ["MAX_WORKERS", "default_workers", "interval_seconds", "worker_count"]

MAX_WORKERS = 256
"""More processes than this is a typo, not a machine: each holds its own cache and connections."""


def default_workers() -> int:
    """One worker per core (``os.cpu_count()``); at least one."""
    return max(1, os.cpu_count() or 1)


def worker_count(text: str) -> int:
    """argparse ``type=``: a whole number from 1 to ``MAX_WORKERS``, else a clear refusal."""
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of processes (1 to {MAX_WORKERS}), not {text[:40]!r}"
        ) from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_WORKERS} processes, not {value}")
    return value


def interval_seconds(text: str) -> float:
    """argparse ``type=`` for an interval: a finite number of seconds, at least 0.1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text[:40]!r}") from None
    if not 0.1 <= value <= 86_400:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be from 0.1 to 86400 seconds, not {text[:40]!r}")
    return value
