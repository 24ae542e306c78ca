"""Shared by the OFREP tests of both shells: the config, the keys, the official web provider."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from shared_documents import (  # noqa: F401 - re-exported for the OFREP tests
    ALLOWED_ORIGIN,
    LIMITED_KEY,
    SERVER_KEY,
    WEB_KEY,
    digest,
    ofrep_config,
)
from venv_node import ROOT, venv_node

WEB_SCRIPT = Path(__file__).parent / "ofrep" / "ofrep_web.mjs"


def web_command(base: str, key: str, context: dict[str, Any], flags: list[tuple[str, str]]) -> list[str]:
    return [str(venv_node()), str(WEB_SCRIPT), base, key, json.dumps(context), json.dumps(flags)]


def parse_web_output(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def run_web_provider(
    base: str, key: str, context: dict[str, Any], flags: list[tuple[str, str]]
) -> dict[str, Any]:
    """For a server in another thread or process (the Worker harness)."""
    result = subprocess.run(
        web_command(base, key, context, flags), cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return parse_web_output(result.stdout)
