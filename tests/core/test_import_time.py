"""Edge modules import without entropy or a clock: workerd snapshots module state at deploy
time, where `random`, `os.urandom` and friends raise. (Under Pyodide the harness imports the
bundled main module the same way.)"""

from __future__ import annotations

import importlib
import os
import random
import secrets
import sys
import time
import uuid

import pytest

EDGE_MODULES = [
    "edgesplit",
    "edgesplit.core",
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
    def forbidden(*args: object, **kwargs: object) -> None:
        raise RuntimeError("entropy or clock used at import time")

    for module, name in [
        (random, "random"),
        (random, "getrandbits"),
        (os, "urandom"),
        (secrets, "token_bytes"),
        (secrets, "token_urlsafe"),
        (time, "time"),
        (time, "monotonic"),
        (uuid, "uuid4"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    for name in list(sys.modules):
        if name == "edgesplit" or name.startswith("edgesplit."):
            monkeypatch.delitem(sys.modules, name)
    for name in EDGE_MODULES:
        importlib.import_module(name)
