"""Issue 19 through the Worker (Pyodide in Node, as wrangler bundles it): with 1, 20, 100 and
500 experiments applying, the decision cookie and header stay under 4 KB and verify, the cookie
comes back and is accepted, and the manifest that names them is published."""

from __future__ import annotations

import json
import time

import pytest
from edge_support import Worker, get

from decision_sizes import COUNTS, HEADER_LIMIT, SET_COOKIE_LIMIT, SIZE_CONFIG, expected, size_document
from edgesplit.core import Manifest
from servers import known

known(SIZE_CONFIG)


@pytest.fixture(scope="module")
def sized(worker: Worker) -> Worker:
    worker.control("kv?key=config.json", "PUT", json.dumps(size_document()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, _, health = get(worker, "/__edgesplit/health")
        if health["config_version"] == SIZE_CONFIG.version:
            return worker
        time.sleep(0.2)
    raise AssertionError(f"the Worker never loaded {SIZE_CONFIG.version}: {health}")


@pytest.mark.parametrize("count", COUNTS)
def test_decisions_fit_and_verify_at_every_size(sized: Worker, count: int) -> None:
    visitor, path = f"edge-sized-{count:04d}", f"/n/{count}"
    status, headers, body = get(sized, path, visitor)
    want = expected(visitor, path)
    assert status == 200 and len(want) == count
    assert body["verified"] and body["assignments"] == want
    assert body["decision_header"].startswith("es2.") and len(body["decision_header"].encode()) < HEADER_LIMIT
    [set_cookie] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_decision=")]
    assert len(set_cookie.encode()) < SET_COOKIE_LIMIT
    cookie = set_cookie.split(";")[0]
    _, again_headers, again = get(sized, path, headers={"Cookie": f"edgesplit_id={visitor}; {cookie}"})
    assert again_headers["set-cookie-all"] == [] and again["assignments"] == want


def test_the_worker_publishes_the_manifest(sized: Worker) -> None:
    manifest_id = Manifest.from_config(SIZE_CONFIG).id
    status, headers, body = get(sized, f"/__edgesplit/manifest/{manifest_id}")
    assert status == 200 and "immutable" in headers["cache-control"]
    parsed = Manifest.parse(json.dumps(body, separators=(",", ":")))
    assert parsed is not None and parsed.id == manifest_id
