"""`wrangler deploy --dry-run`: the config, bindings and the uploaded module tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_validates_config_and_bindings(dry_run: tuple[Path, str]) -> None:
    _, output = dry_run
    assert "env.QUEUE (QueueShard)" in output and "env.COUNTERS (Counters)" in output
    assert "env.EDGESPLIT_CONFIG" in output and "KV Namespace" in output
    assert "--dry-run: exiting now." in output


def test_module_tree_holds_entry_packages_durable_objects_and_the_vendored_sdk(
    dry_run: tuple[Path, str],
) -> None:
    dist, _ = dry_run
    for module in (
        "entry.py",
        "durable_objects/queue_shard.py",
        "durable_objects/storage_sql.py",
        "edgesplit/edge/worker.py",
        "edgesplit/pipeline/flow.py",
        "edgesplit/ports/__init__.py",
        "edgesplit/ports/http.py",
        "edgesplit/core/evaluate.py",
        "edgesplit/queue/store.py",
        "python_modules/workers/__init__.py",
    ):
        assert (dist / module).is_file(), module
    # The edge bundle stays small: only the SDK is vendored, no third-party package.
    vendored = {
        p.name
        for p in (dist / "python_modules").iterdir()
        if p.is_dir() and not p.name.endswith(".dist-info")
    }
    assert vendored <= {"workers", "__pycache__"}, vendored


def test_the_staged_copy_is_invisible_to_the_dev_environment(
    dry_run: tuple[Path, str], tmp_path: Path
) -> None:
    """The build step staged durable_objects/ into src/ (the Worker's module root); the dev
    virtualenv still imports exactly the edgesplit package from src/, nothing else staged there."""
    assert (ROOT / "src" / "durable_objects" / "GENERATED").is_file()
    probe = (
        "import importlib.util as u, edgesplit\n"
        "print([u.find_spec(n) is None for n in ('durable_objects', 'entry')], edgesplit.__file__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[True,", "True]", str(ROOT / "src" / "edgesplit" / "__init__.py")]
