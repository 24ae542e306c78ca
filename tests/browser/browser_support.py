"""Runs the tests' browser scripts (playwright-core driving Debian's Chromium) under Node 24."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from venv_node import venv_node

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        message = "Chromium is missing: scripts/setup.sh installs Debian's chromium (apt-get, as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


async def run_browser_script(script: str, *args: str, timeout: float = 120.0, **env: str) -> dict[str, Any]:
    node = venv_node()
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core missing: run scripts/setup.sh")
    process = await asyncio.create_subprocess_exec(
        str(node),
        str(HERE / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "CHROMIUM": chromium(), **env},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])
