"""Unpack the pure-Python wheels the Pyodide test run needs into one folder.

    python scripts/pyodide_deps.py .cache/pyodide-site

Downloads (from PyPI, pure-Python wheels only, for Python 3.13) what
tests/pyodide/requirements.txt pins, and unzips them: a folder Pyodide can put on sys.path.
Does nothing when the folder is already complete.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "tests" / "pyodide" / "requirements.txt"


def main(target: str) -> None:
    site = Path(target)
    stamp = site / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--platform",
                "any",
                "--python-version",
                "3.13",
                "--implementation",
                "py",
                "-r",
                str(REQUIREMENTS),
                "-d",
                download,
            ],
            check=True,
        )
        site.mkdir(parents=True, exist_ok=True)
        for wheel in sorted(Path(download).glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)
    stamp.write_text(wanted)
    print(f"unpacked Pyodide test dependencies into {site}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".cache" / "pyodide-site"))
