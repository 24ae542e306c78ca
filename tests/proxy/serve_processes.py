"""Helpers for tests that run `edgesplit serve` as real processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queue_depth(tmp: Path) -> int:
    """Events pending in the queue under ``tmp / "queue"``, as `edgesplit queue status` reports."""
    out = subprocess.run(
        [EDGESPLIT, "queue", "status", "--queue-dir", str(tmp / "queue")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return sum(v["depth"] for shard in json.loads(out).values() for v in shard.values())


def serve_command(tmp: Path, origin: str, port: int, *extra: str) -> list[str]:
    """`edgesplit serve` with the config, keys and queue under ``tmp``."""
    return [
        EDGESPLIT,
        "serve",
        "--config",
        str(tmp / "config.json"),
        "--origin",
        origin,
        "--port",
        str(port),
        "--keys",
        str(tmp / "keys.json"),
        "--queue-dir",
        str(tmp / "queue"),
        *extra,
    ]
