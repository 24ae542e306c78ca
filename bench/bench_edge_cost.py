"""The Worker's CPU time per request under Pyodide 0.28.2, with 1 and 20 experiments: cache hit
and miss, new and returning visitors (bench/edge_cost.mjs does the measuring; this script builds
the bundle with wrangler's dry run, writes the configs and prints the table).

    .venv/bin/python bench/bench_edge_cost.py [--requests 300] [--warmup 100] [--dist DIR]
    .venv/bin/python bench/bench_edge_cost.py --profile "hit, returning visitor" --experiments 20

Target (issue 14): at most 2 ms of CPU per request with 20 experiments (the Free plan stops a
request at 10 ms). Figures and their reading: docs/performance-edge.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / ".venv" / "bin"
TARGET_US = 2000
KEYS = '{"keys": [{"id": "bench", "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}'


def config(count: int) -> dict[str, Any]:
    """``count`` experiments on every page, as a shop might run them: most natively hashed, every
    fourth GrowthBook-hashed (assignments equal the vendor SDK's), every third at 50% coverage,
    every fifth with three variants."""
    experiments = []
    for i in range(count):
        variants = [{"key": "control"}, {"key": "treatment"}] + ([{"key": "third"}] if i % 5 == 4 else [])
        experiment: dict[str, Any] = {"key": f"exp-{i:02d}", "variants": variants}
        if i % 4 == 3:
            experiment["hash"] = "growthbook-v2"
        if i % 3 == 2:
            experiment["coverage"] = 0.5
        experiments.append(experiment)
    return {"schema_version": 1, "version": f"bench-{count}", "experiments": experiments}


def dry_run(outdir: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
        "WRANGLER_SEND_METRICS": "false",
    }
    npx = shutil.which("npx", path=env["PATH"]) or "npx"
    subprocess.run(
        [npx, "wrangler", "deploy", "--dry-run", "--outdir", str(outdir)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def start(dist: Path, work: Path, count: int, args: argparse.Namespace) -> subprocess.Popen[str]:
    (work / f"config-{count}.json").write_text(json.dumps(config(count)))
    (work / "keys.json").write_text(KEYS)
    command = [
        str(NODE_BIN / "node"),
        str(ROOT / "bench" / "edge_cost.mjs"),
        "--dist",
        str(dist),
        "--stand-ins",
        str(ROOT / "tests" / "edge" / "stand_ins"),
        "--config",
        str(work / f"config-{count}.json"),
        "--keys",
        str(work / "keys.json"),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
    ]
    if args.profile:
        command += ["--profile", args.profile]
    if args.only:
        command += ["--only", args.only]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    stdout, stderr = process.communicate(timeout=1800)
    if process.returncode != 0:
        raise SystemExit(stderr[-3000:])
    if args.profile:
        print(stderr)
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--dist", type=Path, help="a dry-run bundle to reuse (default: build one)")
    parser.add_argument("--experiments", type=int, nargs="*", default=[1, 20])
    parser.add_argument("--only", help="measure this scenario only")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another dry-run bundle (e.g. main's) measured at the same time, in a process of its own, "
        "so that both see the same load on a shared machine",
    )
    parser.add_argument("--profile", help="print cProfile's top functions for this scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edge-cost-") as tmp:
        work = Path(tmp)
        dist = args.dist
        if dist is None:
            dist = work / "dist"
            dry_run(dist)
        print(
            f"Worker CPU per request under Pyodide 0.28.2 (Node {_node_version()}), {args.requests} requests "
            f"after {args.warmup} warm-up; microseconds of the thread's CPU. mean: exact (whole run); "
            "p50/p99: per-request readings (coarse); stand-ins: the in-process origin, vendor and cache "
            "(calibrated alone); worker: mean - stand-ins"
        )
        print(
            f"{'bundle':<8} {'experiments':>11}  {'scenario':<24} {'mean':>6} {'p50':>6} {'p99':>6} "
            f"{'stand-ins':>9} {'worker':>6}   cache"
        )
        bundles = [("baseline", args.baseline)] if args.baseline else []
        bundles.append(("this", dist))
        means: dict[tuple[str, int, str], int] = {}
        for count in args.experiments:
            running = [(label, start(bundle, work, count, args)) for label, bundle in bundles]
            for label, process in running:
                for row in finish(process, args):
                    _print_row(label, count, row)
                    if "scenario" in row:
                        means[label, count, row["scenario"]] = row["mean_us"]
        if args.baseline:
            print("mean CPU per request, this / baseline (same run):")
            for (label, count, scenario), mean in means.items():
                if label == "this" and ("baseline", count, scenario) in means:
                    print(
                        f"  {count:>2} experiments  {scenario:<24} {mean / means['baseline', count, scenario]:.2f}x"
                    )


def _print_row(label: str, count: int, row: dict[str, Any]) -> None:
    if "calibration_us" in row:
        unit = ", ".join(f"{k} {v:.0f}" for k, v in row["calibration_us"].items())
        print(f"{label:<8} {count:>11}  stand-in operations alone (us each): {unit}")
        return
    verdict = "" if count != 20 else ("  <= 2 ms" if row["mean_us"] <= TARGET_US else "  > 2 ms")
    print(
        f"{label:<8} {count:>11}  {row['scenario']:<24} {row['mean_us']:>6} {row['p50_us']:>6} "
        f"{row['p99_us']:>6} {row['stand_ins_us']:>9} {row['worker_mean_us']:>6}   "
        f"{json.dumps(row['cache'], sort_keys=True)}{verdict}"
    )
    sys.stdout.flush()


def _node_version() -> str:
    return subprocess.run(
        [str(NODE_BIN / "node"), "--version"], capture_output=True, text=True
    ).stdout.strip()


if __name__ == "__main__":
    main()
