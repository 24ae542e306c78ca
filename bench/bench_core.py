"""Decision-core benchmark: edgesplit's assign() and tokens next to GrowthBook.run(), one run.

    .venv/bin/python bench/bench_core.py [--ids 5000] [--repeat 5]

Prints microseconds per call (median of --repeat rounds over the same random ids) and the
ratios that matter: GrowthBook.run() per experiment (one reused instance, attributes set per
visitor) over edgesplit's assign() per experiment, for the native and GrowthBook schemes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from importlib import metadata

import growthbook

from edgesplit.core import (
    DecisionClaims,
    HmacKey,
    Keyring,
    assign,
    parse_config,
    sign_token,
    verify_token,
)


def _config(count: int, scheme: str) -> object:
    return parse_config(
        {
            "schema_version": 1,
            "version": "bench",
            "experiments": [
                {
                    "key": f"exp-{i}",
                    "hash": scheme,
                    "variants": [
                        {"key": "control", "weight": 0.5},
                        {"key": "treatment", "weight": 0.5},
                    ],
                }
                for i in range(count)
            ],
        }
    )


def _median_us_per_call(run: Callable[[], int], repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        calls = run()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds)


def measure(ids: list[str], repeat: int) -> dict[str, float]:
    results: dict[str, float] = {}
    for scheme in ("edgesplit", "growthbook-v1", "growthbook-v2"):
        for count in (1, 20):
            cfg = _config(count, scheme)

            def run_assign(cfg: object = cfg) -> int:
                for visitor in ids:
                    assign(cfg, visitor)  # type: ignore[arg-type]
                return len(ids)

            results[f"assign[{scheme}, {count} exp]"] = _median_us_per_call(run_assign, repeat)

    for version in (1, 2):
        for count in (1, 20):
            experiments = [
                growthbook.Experiment(key=f"exp-{i}", variations=[0, 1], hashVersion=version)
                for i in range(count)
            ]
            gb = growthbook.GrowthBook(attributes={"id": ids[0]})

            def run_gb(experiments: list = experiments, gb: growthbook.GrowthBook = gb) -> int:
                for visitor in ids:
                    gb.set_attributes({"id": visitor})
                    for experiment in experiments:
                        gb.run(experiment)
                return len(ids)

            results[f"GrowthBook.run[v{version}, {count} exp]"] = _median_us_per_call(run_gb, repeat)
            gb.destroy()

    keyring = Keyring((HmacKey("k1", bytes(range(32))),))
    cfg20 = _config(20, "edgesplit")
    claims = [
        DecisionClaims.from_assignments(v, assign(cfg20, v), "bench", 1_764_000_000, 300) for v in ids[:2000]
    ]  # type: ignore[arg-type]
    tokens = [sign_token(c, keyring) for c in claims]

    def run_sign() -> int:
        for c in claims:
            sign_token(c, keyring)
        return len(claims)

    def run_verify() -> int:
        for t in tokens:
            verify_token(t, keyring, 1_764_000_100)
        return len(tokens)

    results["token sign (20 assignments)"] = _median_us_per_call(run_sign, repeat)
    results["token verify (20 assignments)"] = _median_us_per_call(run_verify, repeat)
    results["token length (20 assignments), bytes"] = float(statistics.mean(len(t) for t in tokens))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    rng = random.Random(1)
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(args.ids)]
    results = measure(ids, args.repeat)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, growthbook {metadata.version('growthbook')}"
    )
    for name, value in results.items():
        print(f"  {name:<42} {value:10.2f}{'' if 'bytes' in name else ' us'}")
    ratios = {}
    for scheme, version in (("edgesplit", 2), ("growthbook-v1", 1), ("growthbook-v2", 2)):
        for count in (1, 20):
            ours = results[f"assign[{scheme}, {count} exp]"] / count
            theirs = results[f"GrowthBook.run[v{version}, {count} exp]"] / count
            ratios[f"{scheme} vs GrowthBook.run v{version}, {count} exp"] = theirs / ours
    print("speed-up per experiment (GrowthBook.run time / edgesplit assign time):")
    for name, ratio in ratios.items():
        print(f"  {name:<42} {ratio:8.1f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"results_us": results, "speedup": ratios}, handle, indent=2)


if __name__ == "__main__":
    main()
