"""Guardrails at the edge: counts reach the Counters object, the cron's updater pauses a
harmful variant through KV, and every isolate then serves the control."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from edge_support import Worker, patched, wait_for_config, wait_until

from edgesplit import load_config
from servers import known

FRAGILE: dict[str, Any] = {
    "schema_version": 1,
    "version": "edge-guard-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "fragile",
            "variants": [{"key": "a"}, {"key": "b"}],
            "targeting": {"paths": ["/fragile"]},
            "guardrails": {"min_sample": 50, "metrics": ["errors"], "alpha": 0.01},
        }
    ],
}


known(load_config(FRAGILE))  # the test origin reads the Worker's compact decisions


def visit(worker: Worker, visitor: str, path: str = "/fragile") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{worker.base}{path}", headers={"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_cron_pauses_a_harmful_variant_through_kv(worker: Worker) -> None:
    worker.control("kv?key=config.json", "PUT", json.dumps(FRAGILE))
    wait_for_config(worker, "edge-guard-1")
    statuses = [visit(worker, f"edge-fragile-{n:04d}")[0] for n in range(300)]
    assert 500 in statuses and 200 in statuses
    in_b = f"edge-fragile-{statuses.index(500):04d}"
    worker.control("scheduled", "POST")  # sends the isolate's pending counts, then updates
    stored = json.loads(worker.control("kv?key=config.json")["value"])
    experiment = stored["experiments"][0]
    assert experiment["status"] == "paused", experiment
    assert "errors harm in variant 'b'" in experiment["pause"]["reason"]
    # the isolate re-reads KV after its TTL: then the visitor who was in 'b' gets the control
    assert wait_until(lambda: visit(worker, in_b)[1]["assignments"] == {"fragile": "a"})
    for n in range(30):
        status, body = visit(worker, f"edge-after-{n:04d}")
        assert status == 200 and body["assignments"] == {"fragile": "a"}


BANDIT: dict[str, Any] = {
    "schema_version": 1,
    "version": "edge-bandit-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "arm",
            "variants": [{"key": "a"}, {"key": "b"}],
            "targeting": {"paths": ["/arm"]},
            "bandit": {"update_interval_seconds": 60},
        }
    ],
}


def test_cron_never_writes_an_update_that_would_not_validate(worker: Worker) -> None:
    """Counters.update validates the new document before it goes to KV, as the self-hosted
    runner does: isolates would refuse it, and a new isolate would then have no config."""
    worker.control("kv?key=config.json", "PUT", json.dumps(BANDIT))
    wait_for_config(worker, "edge-bandit-1")
    for n in range(20):
        visit(worker, f"edge-arm-{n:04d}", "/arm")
    invalid = (
        "def replacement(document, update):\n"
        "    import copy\n"
        "    document = copy.deepcopy(document)\n"
        "    document['experiments'][0]['variants'][0]['weight'] = -1\n"
        "    return document"
    )
    with patched(worker, "edgesplit.guardrails.updater.apply_update", invalid):
        worker.control("scheduled", "POST")
    assert json.loads(worker.control("kv?key=config.json")["value"]) == BANDIT  # untouched
    worker.control("scheduled", "POST")  # the real update moves the weights, validated
    moved = json.loads(worker.control("kv?key=config.json")["value"])
    assert [v["weight"] for v in moved["experiments"][0]["variants"]] != [None, None]
