"""The core's and the pipeline's test suites, run again inside Pyodide 0.28.2 (Cloudflare's Python)
under Node: the code that runs at the edge is tested on the interpreter the edge runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / ".cache" / "pyodide-site"
RUNNER = ROOT / "tests" / "pyodide" / "run_pytest.mjs"

pytestmark = pytest.mark.skipif(
    sys.platform == "emscripten", reason="this test starts Pyodide; it is not run inside it"
)


def node() -> str:
    venv_node = ROOT / ".venv" / "bin" / "node"
    found = os.environ.get("EDGESPLIT_NODE") or (
        str(venv_node) if venv_node.exists() else shutil.which("node")
    )
    missing = [
        what
        for what, ok in [
            ("node", found),
            ("node_modules/pyodide (npm ci)", (ROOT / "node_modules" / "pyodide").is_dir()),
            (
                ".cache/pyodide-site (python scripts/pyodide_deps.py)",
                (SITE / ".requirements").exists(),
            ),
        ]
        if not ok
    ]
    if missing:
        if os.environ.get("EDGESPLIT_SKIP_PYODIDE") == "1":
            pytest.skip("EDGESPLIT_SKIP_PYODIDE=1")
        pytest.fail(f"missing {', '.join(missing)}: run scripts/setup.sh")
    assert found
    return found


@pytest.mark.slow
@pytest.mark.timeout(900)  # minutes under Pyodide on a loaded machine: a deadline, not a speed check
def test_core_and_pipeline_suites_pass_under_pyodide() -> None:
    result = subprocess.run(
        [node(), str(RUNNER), str(ROOT), str(SITE), "tests/core", "tests/pipeline", "-q"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    output = result.stdout + result.stderr
    assert "pyodide 3.13" in output and "on emscripten" in output, output[-3000:]
    assert result.returncode == 0, output[-6000:]
    summary = re.search(r"(\d+) passed", output)
    assert summary and int(summary.group(1)) >= 340, output[-3000:]
    assert " failed" not in output.splitlines()[-1]
