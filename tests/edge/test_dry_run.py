"""`wrangler deploy --dry-run`: the config, bindings and the uploaded module tree."""

from __future__ import annotations

from pathlib import Path


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
