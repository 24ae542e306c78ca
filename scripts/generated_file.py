"""Write a generated file, or with ``--check`` fail when it is out of date (tests run the check)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(target: Path, text: str, command: str) -> int:
    if "--check" in sys.argv:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            print(f"{target.name} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0
