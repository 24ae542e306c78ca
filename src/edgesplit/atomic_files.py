"""Files that readers see whole: the old content or the new, never half of either (the config
file the guardrail updaters rewrite while proxies reload it)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_config_atomically", "write_text_atomically"]


def write_config_atomically(path: str | Path, document: dict[str, Any]) -> None:
    write_text_atomically(path, json.dumps(document, indent=2) + "\n")


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write to a temporary file beside it, fsync, then rename over: readers see old or new."""
    target = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
