"""The decision core under Pyodide 0.28.2 (Cloudflare's Python, in Node) against CPython, same
snippet, same run: prints both and the ratios.

    .venv/bin/python bench/bench_runtimes.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

import core_timing  # noqa: E402


def main() -> None:
    cpython = core_timing.measure()
    node = ROOT / ".venv" / "bin" / "node"
    output = subprocess.run(
        [str(node), str(ROOT / "bench" / "pyodide_core.mjs"), str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pyodide = json.loads(output.strip().splitlines()[-1])
    for name in cpython:
        print(
            f"  {name:<28} CPython {cpython[name]:9.2f} us   Pyodide {pyodide[name]:9.2f} us   "
            f"ratio {pyodide[name] / cpython[name]:5.2f}x"
        )


if __name__ == "__main__":
    main()
