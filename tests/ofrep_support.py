"""Shared by the OFREP tests of both shells: the config, the keys, the official web provider."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

from servers import CONFIG
from venv_node import ROOT, venv_node

SERVER_KEY = "server-key-" + "s" * 32
WEB_KEY = "web-key-" + "w" * 32
LIMITED_KEY = "limited-key-" + secrets.token_hex(16)
"""Fresh per test process: rate-limit buckets live as long as the process (or isolate)."""
ALLOWED_ORIGIN = "https://app.example.com"
WEB_SCRIPT = Path(__file__).parent / "ofrep" / "ofrep_web.mjs"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ofrep_config(version: str = "ofrep-1") -> dict[str, Any]:
    return {
        **CONFIG,
        "version": version,
        "ofrep": {
            "enabled": True,
            "clients": [
                {"kind": "server", "key_sha256": digest(SERVER_KEY), "requests_per_minute": 100_000},
                {"kind": "web", "key_sha256": digest(WEB_KEY), "requests_per_minute": 100_000},
                {"kind": "mobile", "key_sha256": digest(LIMITED_KEY), "requests_per_minute": 1},
            ],
            "cors_origins": [ALLOWED_ORIGIN],
        },
    }


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
