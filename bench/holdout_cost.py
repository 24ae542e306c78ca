"""What a global holdout costs the hot path: ``assign`` for 10 experiments, with and without a
holdout, measured side by side in one run in CPU time (process_time), interleaved rounds.

    .venv/bin/python bench/holdout_cost.py > bench/results/holdout_cost.txt
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from edgesplit.core import assign, parse_config

EXPERIMENTS = [{"key": f"exp-{i}", "variants": [{"key": "a"}, {"key": "b"}]} for i in range(10)]
PLAIN = parse_config({"schema_version": 1, "version": "b", "experiments": EXPERIMENTS})
HELD = parse_config(
    {"schema_version": 1, "version": "b", "experiments": EXPERIMENTS, "holdout": {"share": 0.05, "seed": "b"}}
)
IDS = [f"bench-visitor-{i:06d}" for i in range(20_000)]


def cpu_seconds(config: Any) -> float:
    started = time.process_time()
    for visitor in IDS:
        assign(config, visitor)
    return time.process_time() - started


def main() -> None:
    plain, held = [], []
    for _ in range(7):
        plain.append(cpu_seconds(PLAIN))
        held.append(cpu_seconds(HELD))
    p, h = statistics.median(plain), statistics.median(held)
    print(f"assign, 10 experiments, {len(IDS)} visitors, median of 7 interleaved rounds (CPU time)")
    print(f"without holdout: {p / len(IDS) * 1e6:.2f} us/visitor")
    print(f"with holdout (share 0.05, every experiment): {h / len(IDS) * 1e6:.2f} us/visitor")
    print(f"ratio with/without: {h / p:.3f}")


if __name__ == "__main__":
    main()
