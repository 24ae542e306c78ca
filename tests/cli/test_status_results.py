"""``edgesplit status`` prints the results and the holdout, from the proxy's counts file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from edgesplit.core import parse_config
from edgesplit.core.holdout import HOLDOUT_VARIANT
from edgesplit.core.results import compare_arms
from edgesplit.guardrails.counts import CountsStore
from edgesplit.sqlite_sql import SqliteSql

DOCUMENT = {
    "schema_version": 1,
    "version": "cli-results",
    "holdout": {"share": 0.1, "seed": "cli"},
    "experiments": [
        {"key": "hero", "variants": [{"key": "control"}, {"key": "bold"}], "results": {"minimum_effect": 0.1}}
    ],
}


def test_status_prints_results_and_holdout(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(DOCUMENT))
    state = tmp_path / "state"
    state.mkdir()
    counts = CountsStore(SqliteSql(state / "counts.sqlite3"))
    now = time.time()
    counts.add(
        [
            ("hero", "control", now - 60, {"exposures": 2000, "conversions": 200}),
            ("hero", "bold", now - 60, {"exposures": 2000, "conversions": 260}),
            ("hero", HOLDOUT_VARIANT, now - 60, {"exposures": 400, "conversions": 30}),
        ]
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgesplit.cli",
            "status",
            "--config",
            str(tmp_path / "config.json"),
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [row] = report["experiments"][0]["results"]["variants"]
    settings = parse_config(DOCUMENT).experiment("hero").results
    expected = compare_arms((200, 2000), (260, 2000), settings, 0.01**2)
    assert row == {"variant": "bold", **json.loads(json.dumps(expected))}
    [held] = report["holdout"]["by_experiment"]
    assert held["holdout"]["exposures"] == 400 and held["rest"]["conversions"] == 460
