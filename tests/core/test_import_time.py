"""Edge modules import without entropy or a clock: workerd snapshots module state at deploy
time, where `random`, `os.urandom` and friends raise. (Under Pyodide the harness imports the
bundled main module the same way.)"""

from __future__ import annotations

import importlib
import random
import sys

import pytest

from edgesplit.snapshot_guard import entropy_forbidden

EDGE_MODULES = [
    "edgesplit",
    "edgesplit.core",
    "edgesplit.ports",
    "edgesplit.pipeline",
    "edgesplit.queue",
    "edgesplit.queue.sharding",
    "edgesplit.edge.config_source",
    "edgesplit.system",
    "edgesplit.vendors",
    "edgesplit.queue.drain",
    "edgesplit.queue.delivery",
]


def test_edge_modules_import_with_entropy_and_clock_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "edgesplit" or name.startswith("edgesplit."):
            monkeypatch.delitem(sys.modules, name)
    with entropy_forbidden():
        for name in EDGE_MODULES:
            importlib.import_module(name)
    with entropy_forbidden(), pytest.raises(RuntimeError, match="snapshot forbids"):
        random.random()  # the guard itself works
