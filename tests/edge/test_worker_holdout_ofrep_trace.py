"""Holdouts, OFREP and the decision trace in the Worker (Pyodide in Node, miniworkerd)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from edge_support import Worker, get

from edgesplit.core import parse_config, verify_token
from servers import CONFIG, KEYRING

ADMIN = "edge-admin-token-for-openness"
HOLDOUT = {
    **CONFIG,
    "version": "edge-holdout",
    "holdout": {"share": 0.3, "seed": "edge", "experiments": ["hero"]},
}


def set_env(worker: Worker, name: str, value: str) -> None:
    worker.control(f"env?name={name}&value={quote(value)}")


def use_config(worker: Worker, document: dict) -> None:
    """Put a config in KV and wait (polling, generous deadline) until the isolate serves it."""
    worker.control("kv?key=config.json", "PUT", json.dumps(document))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, _, body = get(worker, "/__edgesplit/health")
        if body["config_version"] == document["version"]:
            return
        time.sleep(0.2)
    raise AssertionError("the Worker never served the new config")


def test_held_out_visitors_get_the_control_and_a_marked_token_at_the_edge(worker: Worker) -> None:
    use_config(worker, HOLDOUT)
    config = parse_config(HOLDOUT)
    visitors = [f"edge-holdout-{n:03d}" for n in range(40)]
    held = [v for v in visitors if config.holdout.contains(v)]
    assert held and len(held) < len(visitors)
    for visitor in visitors:
        _, _, body = get(worker, "/nocache/x", visitor)
        claims = verify_token(body["decision_header"], KEYRING, time.time()).claims
        assert claims.holdout == ({"hero"} if visitor in held else frozenset())
        if visitor in held:
            assert body["assignments"] == {"hero": "control"}
    set_env(worker, "EDGESPLIT_ADMIN_TOKEN", ADMIN)
    try:
        worker.control("settle")
        deadline = time.monotonic() + 30
        while True:
            status, _, report = get(
                worker, "/__edgesplit/status.json", headers={"Authorization": f"Bearer {ADMIN}"}
            )
            assert status == 200, report
            [row] = report["holdout"]["by_experiment"]
            if row["holdout"]["exposures"] >= len(held) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert row["holdout"]["exposures"] == len(held)
    finally:
        set_env(worker, "EDGESPLIT_ADMIN_TOKEN", "")
