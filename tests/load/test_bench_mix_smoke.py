"""A few seconds of the realistic-mix benchmark and of the pipeline-work benchmark, so that the
benchmarks the lead reruns on a quiet machine cannot rot. Checks that they run and measure
something, never how fast this machine is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(sys.platform == "emscripten", reason="starts processes"),
    pytest.mark.timeout(900),
]


def test_the_mix_benchmark_measures_the_bare_proxy_and_edgesplit(tmp_path: Path) -> None:
    if not (ROOT / "node_modules" / ".bin" / "artillery").exists():
        if os.environ.get("EDGESPLIT_SKIP_PYODIDE") == "1":
            pytest.skip("EDGESPLIT_SKIP_PYODIDE=1")
        pytest.fail("artillery missing: run scripts/setup.sh")
    command = [
        sys.executable,
        str(ROOT / "bench" / "bench_mix.py"),
        *("--rate", "5", "--duration", "3", "--warmup", "0", "--pool", "20"),
        *("--targets", "bare proxy", "edgesplit", "--results", str(tmp_path), "--label", "smoke"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads((tmp_path / "mix-smoke.json").read_text())
    rows = {row["target"]: row for row in result["rows"]}
    assert set(rows) == {"bare proxy", "edgesplit"}
    for row in rows.values():
        assert row["responses"] == row["requests"] > 0 and row["errors"] == 0
        assert row["proxy_cpu_s"] >= 0 and "proxy_cpu_us_per_request" in row
    assert result["vendor_sink"]["batches"] > 0  # edgesplit's exposures reached the vendor


def test_the_pipeline_work_benchmark_reports_both_visitors() -> None:
    command = [sys.executable, str(ROOT / "bench" / "bench_pipeline_work.py"), "--raw"]
    done = subprocess.run(
        [*command, "--requests", "50", "--experiments", "1", "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert [r["experiments"] for r in results] == [1, 20]
    for result in results:
        assert result["returning_us"] > 0 and result["new_us"] > 0
        assert result["returning_sets_cookies"] == 0  # a returning visitor's cookies still hold
