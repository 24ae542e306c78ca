"""The Worker fails open: each failure injected into the bundled Worker (Pyodide in Node),
every page still arrives from the origin, and the failure is counted. Also the status page
at the edge, from the Counters and QueueShard Durable Objects."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from edge_support import Worker, get, patched, py

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="drives Node from CPython")
REQUESTS = 12


def set_env(worker: Worker, name: str, value: str) -> None:
    worker.control(f"env?name={name}&value={quote(value)}")


def metric(worker: Worker, name: str, **labels: str) -> float:
    _, _, body = get(worker, "/__edgesplit/metrics")
    text = body.decode() if isinstance(body, bytes) else str(body)
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{name}{{{re.escape(wanted)}}} (\S+)$", text, re.M) if labels else None
    if not labels:
        match = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@contextmanager
def fault(worker: Worker, part: str) -> Iterator[None]:
    worker.control(f"fault?part={part}&on=1")
    try:
        yield
    finally:
        worker.control(f"fault?part={part}&on=0")


def pages_arrive(worker: Worker, tag: str, *, decided: bool) -> None:
    for n in range(REQUESTS):
        path = f"/page/{tag}-{n}"
        fetched = worker.origin.fetches[path]
        status, _, body = get(worker, path, f"{tag}-visitor-{n:04d}")
        assert status == 200 and isinstance(body, dict) and worker.origin.fetches[path] == fetched + 1, body
        assert bool(body["verified"]) is decided, body


COUNT_LOG_LINES = """
import logging
class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []
    def emit(self, record):
        self.messages.append(record.getMessage())
lines = Lines()
logging.getLogger("edgesplit").addHandler(lines)
import edgesplit.edge.worker as w
w._LINES = lines
'ok'
"""


@pytest.mark.parametrize("part, stage", [("cache", "cache_lookup"), ("cache", "cache_store")])
def test_a_failing_cache_costs_no_page(worker: Worker, part: str, stage: str) -> None:
    py(worker, COUNT_LOG_LINES)
    py(worker, f"import edgesplit.edge.worker as w\nw._state().fail_open.logged.discard('{stage}')\n'ok'")
    before = metric(worker, "edgesplit_internal_errors_total", stage=stage)
    try:
        with fault(worker, part):
            pages_arrive(worker, f"cache-{stage}", decided=True)
            worker.control("settle")
        logged = py(
            worker,
            f"import edgesplit.edge.worker as w\nlen([m for m in w._LINES.messages if 'failed in {stage} ' in m])",
        )
    finally:
        py(
            worker,
            "import logging, edgesplit.edge.worker as w\nlogging.getLogger('edgesplit').removeHandler(w._LINES)",
        )
    assert metric(worker, "edgesplit_internal_errors_total", stage=stage) - before == REQUESTS
    assert logged == 1  # the first failure of the stage, once per isolate


def test_a_failing_queue_with_the_vendor_down_drops_counted_events_not_pages(worker: Worker) -> None:
    set_env(worker, "EDGESPLIT_VENDOR_URL", "http://127.0.0.1:9/batch")  # nobody listens there
    before = metric(worker, "edgesplit_events_dropped_total", vendor="default", reason="queue_unavailable")
    try:
        with fault(worker, "queue"):
            pages_arrive(worker, "queue-down", decided=True)
            worker.control("settle")
    finally:
        set_env(worker, "EDGESPLIT_VENDOR_URL", f"{worker.vendor_base}/batch")
    dropped = (
        metric(worker, "edgesplit_events_dropped_total", vendor="default", reason="queue_unavailable")
        - before
    )
    assert dropped >= REQUESTS  # every exposure of every page, none silently


def test_failing_counters_keep_the_counts_for_the_next_flush(worker: Worker) -> None:
    due = "import edgesplit.edge.worker as w\nw._STATE.counts_flushed_at = 0\n'ok'"  # flush on the next page
    before = metric(worker, "edgesplit_internal_errors_total", stage="counts")
    with fault(worker, "counters"):
        for n in range(3):
            py(worker, due)
            pages_arrive(worker, f"counters-{n}", decided=True)
            worker.control("settle")
        pending = py(worker, "import edgesplit.edge.worker as w\nlen(w._STATE.recorder._pending)")
    assert metric(worker, "edgesplit_internal_errors_total", stage="counts") - before == 3
    assert pending > 0  # kept, not lost
    py(worker, due)
    get(worker, "/page/counters-flush", "counters-flush-visitor")
    worker.control("settle")
    assert py(worker, "import edgesplit.edge.worker as w\nlen(w._STATE.recorder._pending)") == 0


def test_a_bug_in_deciding_serves_the_page_with_the_control_decision(worker: Worker) -> None:
    before = metric(worker, "edgesplit_internal_errors_total", stage="decide")
    bug = "def replacement(*a, **k):\n    raise KeyError('bug')"
    with patched(worker, "edgesplit.pipeline.request_decision.decide", bug):
        pages_arrive(worker, "decide-bug", decided=True)
        _, _, body = get(worker, "/page/decide-bug-x", "decide-bug-visitor")
        assert body["assignments"] == {"hero": "control"} and body["visitor_id"] == ""
    assert metric(worker, "edgesplit_internal_errors_total", stage="decide") - before == REQUESTS + 1


def test_missing_or_broken_keys_pass_requests_through(worker: Worker) -> None:
    keys = py(worker, "import js\nstr(js._miniworkerd_env.EDGESPLIT_KEYS)")
    stages = ("edge_setup", "edge_settings")  # not set; set but refused (edge/settings.py)
    before = [metric(worker, "edgesplit_internal_errors_total", stage=stage) for stage in stages]
    try:
        for broken in ("", "not json"):
            set_env(worker, "EDGESPLIT_KEYS", broken)
            pages_arrive(worker, f"keys-{len(broken)}", decided=False)
    finally:
        set_env(worker, "EDGESPLIT_KEYS", keys)
    after = [metric(worker, "edgesplit_internal_errors_total", stage=stage) for stage in stages]
    assert [a - b for a, b in zip(after, before, strict=True)] == [REQUESTS, REQUESTS]


def test_no_readable_config_at_start_passes_requests_through(worker: Worker) -> None:
    get(worker, "/__edgesplit/health")  # this isolate has read its config (whatever ran before)
    py(
        worker, "import edgesplit.edge.worker as w\nw._SAVED = w._STATE\nw._STATE = None\n'ok'"
    )  # a new isolate
    try:
        with fault(worker, "kv"):  # and KV down: no config to be had, no last good one
            pages_arrive(worker, "no-config", decided=False)
        counted = py(
            worker,
            "import edgesplit.edge.worker as w\n"
            "w._STATE.metrics.value('edgesplit_internal_errors_total', stage='edge_setup')",
        )
        assert counted == REQUESTS
    finally:
        py(worker, "import edgesplit.edge.worker as w\nw._STATE = w._SAVED\n'ok'")
    with fault(worker, "kv"):  # with a last good config, KV failing changes nothing
        pages_arrive(worker, "kv-down", decided=True)


def test_an_exception_escaping_the_worker_is_passed_through_by_the_platform(worker: Worker) -> None:
    rebuild = (  # the pipeline is built per isolate; a fresh isolate has no state yet (test order)
        "import edgesplit.edge.worker as w\nif w._STATE is not None:\n    w._STATE.pipeline = None\n'ok'"
    )
    py(worker, rebuild)
    try:
        with patched(
            worker,
            "edgesplit.edge.worker._build_pipeline",
            "def replacement(*a, **k):\n    raise RuntimeError('bug')",
        ):
            pages_arrive(worker, "escaped", decided=False)
    finally:
        py(worker, rebuild)


def test_status_page_at_the_edge_reads_the_durable_objects(worker: Worker) -> None:
    set_env(worker, "EDGESPLIT_ADMIN_TOKEN", "edge-admin-token-0123456789abcdef")
    auth = {"Authorization": "Bearer edge-admin-token-0123456789abcdef"}
    try:
        status, _, body = get(worker, "/__edgesplit/status.json")
        assert status == 401
        _, _, before = get(worker, "/__edgesplit/status.json", headers=auth)
        exposed_before = sum(
            v["exposures"] for e in before["experiments"] if e["key"] == "hero" for v in e["variants"]
        )
        set_env(worker, "EDGESPLIT_VENDOR_URL", "http://127.0.0.1:9/batch")  # events wait in the queue
        try:
            for n in range(10):
                get(worker, "/page/edge-status", f"edge-status-visitor-{n:03d}")
            worker.control("settle")
            # Both read while the vendor is still down: no alarm can drain a shard in between.
            shards = worker.control("queue")["shards"]
            status, _, report = get(worker, "/__edgesplit/status.json", headers=auth)
        finally:
            set_env(worker, "EDGESPLIT_VENDOR_URL", f"{worker.vendor_base}/batch")
        assert status == 200, report
        hero = next(e for e in report["experiments"] if e["key"] == "hero")
        assert sum(v["exposures"] for v in hero["variants"]) - exposed_before == 10
        queued = sum(stats["depth"] for shard in shards.values() for stats in shard.values())
        assert queued >= 10 and report["queue"]["depth"] == queued
        status, headers, page = get(worker, "/__edgesplit/status", headers=auth)
        assert (
            status == 200 and b"edgesplit status" in page and headers["content-type"].startswith("text/html")
        )
    finally:
        set_env(worker, "EDGESPLIT_ADMIN_TOKEN", "")
