"""A short artillery smoke of every scenario (a few seconds, low rate) so they cannot rot.
It checks that they work, never how fast this machine is (``--smoke`` lifts the latency
thresholds). The full runs (1000 arrivals/s for 60 s) stay out of CI: `npm run load:steady`."""

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


def loadrun(tmp_path: Path, *args: str) -> dict:
    if not (ROOT / "node_modules" / ".bin" / "artillery").exists():
        if os.environ.get("EDGESPLIT_SKIP_PYODIDE") == "1":
            pytest.skip("EDGESPLIT_SKIP_PYODIDE=1")
        pytest.fail("artillery missing: run scripts/setup.sh")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "loadrun.py"), *args, "--smoke", "--report", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=840,  # the demo stack, artillery and the queue's drain on a loaded machine
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "summary.json").read_text())


@pytest.mark.slow
def test_steady_smoke_with_baseline(tmp_path: Path) -> None:
    results = loadrun(tmp_path, "steady", "--rate", "20", "--duration", "3")
    proxied = results["through edgesplit"]
    assert proxied["requests"] == 60 and proxied["errors"] == 0
    assert results["origin (direct)"]["requests"] == 60


@pytest.mark.slow
def test_vendor_outage_smoke_loses_no_event(tmp_path: Path) -> None:
    results = loadrun(tmp_path, "vendor-outage", "--rate", "20", "--duration", "6")
    assert results["through edgesplit"]["errors"] == 0


@pytest.mark.slow
def test_cache_smoke_hits(tmp_path: Path) -> None:
    results = loadrun(tmp_path, "cache", "--rate", "40", "--duration", "3")
    assert results["through edgesplit"]["hit_ratio"] >= 0.9
