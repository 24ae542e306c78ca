"""The bundled Worker (Pyodide in Node) builds its pipeline once per isolate: requests share it,
never a request's own objects (``ctx.waitUntil``), and new keys, variables or a new config are
seen. Bad variables are refused by name and every page still arrives from the origin."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from edge_support import Worker, get, patched, py, wait_for_config

from servers import CONFIG, KEYRING_JSON

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="drives Node from CPython")

PIPELINE_ID = "import edgesplit.edge.worker as w\nid(w._STATE.pipeline)"
ROTATED_KEYS = json.dumps(
    {
        "keys": [
            {"id": "rotated-key", "secret": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8"},
            *json.loads(KEYRING_JSON)["keys"],
        ]
    }
)


def set_env(worker: Worker, name: str, value: str) -> None:
    worker.control(f"env?name={name}&value={quote(value)}")


@contextmanager
def env_set(worker: Worker, name: str, value: str) -> Iterator[None]:
    before = py(
        worker, f"import js\nv = getattr(js._miniworkerd_env, {name!r}, None)\nNone if v is None else str(v)"
    )
    set_env(worker, name, value)
    try:
        yield
    finally:
        set_env(worker, name, before or "")


def late_wait_untils(worker: Worker) -> int:
    return int(worker.control("violations")["late_wait_until"])


def decided_page(worker: Worker, path: str, visitor: str) -> dict:
    status, _, body = get(worker, path, visitor)
    assert status == 200 and isinstance(body, dict), body
    return body


def test_requests_share_one_pipeline_and_defer_to_their_own_context(worker: Worker) -> None:
    decided_page(worker, "/page/isolate-warm", "isolate-warm-0001")
    built = py(worker, PIPELINE_ID)
    violations = late_wait_untils(worker)
    for n in range(6):  # new visitors: exposures deferred to waitUntil; misses stored through it
        assert decided_page(worker, f"/page/isolate-seq-{n}", f"isolate-seq-{n:04d}")["verified"]
        worker.control("settle")  # the request is over: its context is closed
    with ThreadPoolExecutor(8) as pool:  # interleaved requests in the one isolate
        pages = list(
            pool.map(
                lambda n: decided_page(worker, f"/page/isolate-par-{n % 3}", f"isolate-par-{n:04d}"),
                range(24),
            )
        )
    assert all(page["verified"] for page in pages)
    worker.control("settle")
    assert py(worker, PIPELINE_ID) == built  # not rebuilt per request
    assert late_wait_untils(worker) == violations


def test_a_pipeline_holding_the_first_request_context_is_caught(worker: Worker) -> None:
    """The harness refuses waitUntil on a finished request's context, as workerd does: what a
    per-isolate pipeline holding one request's ``ctx`` would do on the next request."""
    stale = (
        "def replacement(_first=[]):\n"
        "    import edgesplit.edge.request_scope as rs\n"
        "    if not _first:\n"
        "        _first.append(rs._CONTEXT.get())\n"
        "    return _first[0]"
    )
    violations = late_wait_untils(worker)
    with patched(worker, "edgesplit.edge.request_scope.current_context", stale):
        for n in range(3):
            decided_page(worker, f"/page/isolate-stale-{n}", f"isolate-stale-{n:04d}")
            worker.control("settle")
    assert late_wait_untils(worker) > violations


def test_new_keys_are_used_for_the_next_request(worker: Worker) -> None:
    before = decided_page(worker, "/page/isolate-keys-0", "isolate-keys-0001")  # each page a miss
    assert before["verified"] and before["decision_header"].split(".")[1] == "test-key"
    built = py(worker, PIPELINE_ID)
    with env_set(worker, "EDGESPLIT_KEYS", ROTATED_KEYS):
        after = decided_page(worker, "/page/isolate-keys-1", "isolate-keys-0001")
        assert after["decision_header"].split(".")[1] == "rotated-key"
        assert not after["verified"]  # the test origin knows only test-key
        assert py(worker, PIPELINE_ID) != built
    again = decided_page(worker, "/page/isolate-keys-2", "isolate-keys-0001")
    assert again["verified"] and again["decision_header"].split(".")[1] == "test-key"


def test_a_new_config_reaches_the_per_isolate_pipeline(worker: Worker) -> None:
    built = py(worker, PIPELINE_ID)
    config = {**CONFIG, "version": "isolate-2"}
    worker.control("kv?key=config.json", "PUT", json.dumps(config))
    try:
        wait_for_config(worker, "isolate-2")
    finally:
        worker.control("kv?key=config.json", "PUT", json.dumps(CONFIG))
        wait_for_config(worker, CONFIG["version"])
    assert py(worker, PIPELINE_ID) == built  # the holder takes new configs in place


def test_a_bad_variable_passes_pages_through_and_names_itself(worker: Worker) -> None:
    def errors() -> float:
        _, _, text = get(worker, "/__edgesplit/metrics")
        found = re.search(
            r'^edgesplit_internal_errors_total\{stage="edge_settings"\} (\S+)$', text.decode(), re.M
        )
        return float(found.group(1)) if found else 0.0

    py(
        worker,
        "import logging, edgesplit.edge.worker as w\n"
        "w._state().fail_open.logged.discard('edge_settings')\n"
        "class Lines(logging.Handler):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.messages = []\n"
        "    def emit(self, record):\n"
        "        self.messages.append(record.getMessage())\n"
        "w._SETTINGS_LINES = Lines()\n"
        "logging.getLogger('edgesplit').addHandler(w._SETTINGS_LINES)\n"
        "'ok'",
    )
    before = errors()
    try:
        with env_set(worker, "EDGESPLIT_QUEUE_SHARDS", "eight"):
            for n in range(3):
                status, headers, body = get(worker, f"/page/isolate-bad-{n}", f"isolate-bad-{n:04d}")
                assert status == 200 and body["decision_header"] is None
                assert not any("edgesplit_id" in cookie for cookie in headers["set-cookie-all"])
        logged = py(worker, "import edgesplit.edge.worker as w\nw._SETTINGS_LINES.messages")
    finally:
        py(
            worker,
            "import logging, edgesplit.edge.worker as w\n"
            "logging.getLogger('edgesplit').removeHandler(w._SETTINGS_LINES)\n'ok'",
        )
    assert errors() - before == 3
    assert len([line for line in logged if "EDGESPLIT_QUEUE_SHARDS" in line]) == 1  # named, once
    assert "whole number" in next(line for line in logged if "EDGESPLIT_QUEUE_SHARDS" in line)
    assert decided_page(worker, "/page/isolate-fixed", "isolate-fixed-0001")["verified"]
