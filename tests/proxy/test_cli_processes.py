"""`edgesplit serve` and `edgesplit demo` as real processes: they start, serve and stop cleanly."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_demo_serves_verified_variants_and_counts_events() -> None:
    ports = [free_port() for _ in range(3)]
    process = subprocess.Popen(
        [
            EDGESPLIT,
            "demo",
            "--port",
            str(ports[0]),
            "--origin-port",
            str(ports[1]),
            "--vendor-port",
            str(ports[2]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = wait_for(f"http://127.0.0.1:{ports[0]}/").decode()
        assert "Decision verified" in page
        assert re.search(r'id="variant">(control|bold)<', page)
        forced = wait_for(f"http://127.0.0.1:{ports[0]}/?edgesplit_force=hero-headline:bold").decode()
        assert 'id="variant">bold<' in forced
        deadline = time.monotonic() + 30  # events are flushed to the vendor about once a second
        while (stats := json.loads(wait_for(f"http://127.0.0.1:{ports[2]}/stats")))["unique"] < 1:
            assert time.monotonic() < deadline, stats
            time.sleep(0.1)
        assert stats["exposures"]["hero-headline"]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0, out
    assert "edgesplit demo is running" in out and "edgesplit demo stopped." in out


def start_serve(tmp_path: Path, config: Path) -> tuple[int, subprocess.Popen[str]]:
    """`edgesplit serve` on a free port with a fresh keyring, in front of a dead origin."""
    keys = tmp_path / "keys.json"
    keys.write_text(
        subprocess.run([EDGESPLIT, "keys", "generate"], capture_output=True, text=True, check=True).stdout
    )
    port = free_port()
    process = subprocess.Popen(
        [
            EDGESPLIT,
            "serve",
            "--config",
            str(config),
            "--origin",
            "http://127.0.0.1:9",
            "--port",
            str(port),
            "--keys",
            str(keys),
            "--queue-dir",
            str(tmp_path / "state"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    return port, process


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"schema_version": 1, "version": "v1", "experiments": []}))
    port, process = start_serve(tmp_path, config)
    try:
        health = json.loads(wait_for(f"http://127.0.0.1:{port}/__edgesplit/health"))
        assert health == {"status": "ok", "config_version": "v1", "experiments": 0, "config_refused": 0}
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "edgesplit proxy on http://127.0.0.1" in err and "shutting down" in err


def test_serve_with_strict_config_refuses_a_bad_config_at_start(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"schema_version": 1}')
    result = subprocess.run(
        [EDGESPLIT, "serve", "--config", str(config), "--origin", "http://127.0.0.1:9", "--strict-config"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "EDGESPLIT_KEYS": ""},
    )
    assert result.returncode == 1
    assert "version: is required" in result.stderr and "experiments: is required" in result.stderr


def test_serve_fails_open_on_a_missing_config_and_picks_it_up_later(tmp_path: Path) -> None:
    config = tmp_path / "config.json"  # does not exist yet
    port, process = start_serve(tmp_path, config)
    try:
        health = json.loads(wait_for(f"http://127.0.0.1:{port}/__edgesplit/health"))
        assert health["config_version"] == "unavailable" and health["experiments"] == 0
        metrics = wait_for(f"http://127.0.0.1:{port}/__edgesplit/metrics").decode()
        assert 'edgesplit_internal_errors_total{stage="config"} 1' in metrics
        config.write_text(json.dumps({"schema_version": 1, "version": "fixed", "experiments": []}))
        deadline = time.monotonic() + 30
        while (
            json.loads(wait_for(f"http://127.0.0.1:{port}/__edgesplit/health"))["config_version"] != "fixed"
        ):
            assert time.monotonic() < deadline, "the fixed config was not picked up"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    assert "serving without experiments until it is fixed" in err


@pytest.mark.parametrize("command", [["serve", "--help"], ["demo", "--help"], ["--help"]])
def test_help_teaches(command: list[str]) -> None:
    result = subprocess.run([EDGESPLIT, *command], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "usage: edgesplit" in result.stdout
    if command[0] == "serve":
        assert "SIGTERM" in result.stdout and "EDGESPLIT_KEYS" in result.stdout
