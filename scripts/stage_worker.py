"""Stage the Worker's module tree before wrangler bundles it (wrangler.toml's [build] command).

Wrangler uploads the main module's folder (src/) plus python_modules/. The Durable Object
classes live in the top-level durable_objects/ package, outside src/, so they are copied to
src/durable_objects/ (generated, git-ignored) where the bundle picks them up, and entry.py
imports them under the same name in both places.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "durable_objects"
TARGET = ROOT / "src" / "durable_objects"


def main() -> None:
    if TARGET.is_symlink() or TARGET.is_file():
        TARGET.unlink()
    elif TARGET.exists():
        shutil.rmtree(TARGET)
    shutil.copytree(SOURCE, TARGET, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (TARGET / "GENERATED").write_text(
        "Copied from ../../durable_objects by scripts/stage_worker.py; edit there.\n"
    )
    print(
        f"staged {sum(1 for _ in TARGET.rglob('*.py'))} Durable Object modules into {TARGET.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
