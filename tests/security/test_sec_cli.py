"""`edgesplit serve` refuses weak or malformed security settings with the reason, before it
listens (issue 13, finding 10: no minimum admin token length)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servers import KEYRING_JSON

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        ([], {"EDGESPLIT_ADMIN_TOKEN": "hunter2"}, "at least 32 characters"),
        (["--track-limits", '{"per_visitr": 1}'], {}, "track limits: unknown field 'per_visitr'"),
        (["--trusted-upstream", "my-balancer"], {}, "'my-balancer' is not an address or network"),
        (["--header-timeout", "0"], {}, "must be > 0"),
    ],
)
def test_serve_refuses_bad_security_settings(
    tmp_path: Path, args: list[str], env: dict[str, str], reason: str
) -> None:
    (tmp_path / "keys.json").write_text(KEYRING_JSON)
    (tmp_path / "config.json").write_text(
        json.dumps({"schema_version": 1, "version": "v", "experiments": []})
    )
    result = subprocess.run(
        [EDGESPLIT, "serve", "--keys", str(tmp_path / "keys.json"), "--config", str(tmp_path / "config.json"),
         "--origin", "http://127.0.0.1:9", "--port", "0", "--queue-dir", str(tmp_path / "q"), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode != 0 and reason in result.stderr, result.stderr[-2000:]
