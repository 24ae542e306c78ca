"""Guardrails at the edge: counts reach the Counters object, the cron's updater pauses a
harmful variant through KV, and every isolate then serves the control."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from edge_support import Worker

from edgesplit import load_config
from servers import known

FRAGILE = {
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


def visit(worker: Worker, visitor: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{worker.base}/fragile", headers={"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_cron_pauses_a_harmful_variant_through_kv(worker: Worker) -> None:
    worker.control("kv?key=config.json", "PUT", json.dumps(FRAGILE))
    time.sleep(1.2)  # the isolate's config TTL
    statuses = [visit(worker, f"edge-fragile-{n:04d}")[0] for n in range(300)]
    assert 500 in statuses and 200 in statuses
    time.sleep(5.1)  # isolates send their counts every 5 s
    visit(worker, "edge-fragile-flush")
    worker.control("scheduled", "POST")
    stored = json.loads(worker.control("kv?key=config.json")["value"])
    experiment = stored["experiments"][0]
    assert experiment["status"] == "paused", experiment
    assert "errors harm in variant 'b'" in experiment["pause"]["reason"]
    time.sleep(1.2)
    for n in range(30):
        status, body = visit(worker, f"edge-after-{n:04d}")
        assert status == 200 and body["assignments"] == {"fragile": "a"}
