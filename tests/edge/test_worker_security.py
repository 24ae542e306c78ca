"""Issue 13 at the edge: the Worker (Pyodide in Node, miniworkerd) keeps the cache key clean and
counts conversions once, with the same pipeline code as the self-hosted proxy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from edge_support import Worker, get
from prometheus_client.parser import text_string_to_metric_families

BOT = {"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}


def post_track(worker: Worker, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        worker.base + "/__edgesplit/track",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def token_for(worker: Worker, visitor: str) -> str:
    _, headers, _ = get(worker, "/page/shop-edge-security", visitor)
    [cookie] = [c for c in headers["set-cookie-all"] if c.startswith("edgesplit_decision=")]
    return cookie.split(";")[0].split("=", 1)[1]


def test_edge_forwarding_headers_are_edgesplits_own(worker: Worker) -> None:
    status, _, page = get(worker, "/page/echo/xfh", headers={**BOT, "X-Forwarded-Host": "evil.example"})
    assert status == 200 and page["x_forwarded_host"] != "evil.example"
    for n in range(4):
        _, _, page = get(worker, "/page/echo/xfh", f"edge-human-{n:06d}")
        assert "evil.example" not in json.dumps(page)


def test_edge_ignored_parameters_never_reach_the_origin(worker: Worker) -> None:
    _, _, page = get(worker, "/page/echo/utm?utm_source=%3Cscript%3E&keep=1;utm_x=2", headers=BOT)
    assert page["query"] == "keep=1"
    _, headers, page = get(worker, "/page/echo/utm?keep=1", headers=BOT)
    assert "script" not in json.dumps(page)


def test_edge_underscore_alias_of_the_decision_header_is_dropped(worker: Worker) -> None:
    _, _, page = get(worker, "/page/echo/underscore", headers={"x_edgesplit_decision": "replayed"})
    assert "x_edgesplit_decision" not in page["header_names"]


def test_edge_conversion_counts_once_and_is_capped(worker: Worker) -> None:
    token = token_for(worker, "edge-once-0001")
    answers = [
        post_track(worker, {"event": "purchase", "id": "same-order", "token": token}) for _ in range(5)
    ]
    assert [status for status, _ in answers] == [202] * 5
    assert [body.get("duplicate", False) for _, body in answers] == [False, True, True, True, True]
    worker.control("env?name=EDGESPLIT_TRACK_LIMITS&value=" + quote(json.dumps({"per_token": 2})))
    try:
        statuses = [post_track(worker, {"event": "buy", "id": f"o{n}", "token": token})[0] for n in range(3)]
        assert statuses == [202, 202, 429]
    finally:
        worker.control("env?name=EDGESPLIT_TRACK_LIMITS&value=")


def test_edge_track_field_names_never_become_metric_labels(worker: Worker) -> None:
    status, _ = post_track(worker, b'{"event":"x","x\'\\"} 1e99\\nevil":1}')
    assert status == 400
    _, _, text = get(worker, "/__edgesplit/metrics")
    families = {f.name: f.samples for f in text_string_to_metric_families(text.decode())}
    assert "evil" not in families
    reasons = {s.labels["reason"] for s in families["edgesplit_track_rejected"]}
    assert "unknown field" in reasons and all("evil" not in r for r in reasons)


def test_edge_refuses_a_short_admin_token_rather_than_opening_metrics(worker: Worker) -> None:
    worker.control("env?name=EDGESPLIT_ADMIN_TOKEN&value=hunter2")
    try:
        status, _, body = get(worker, "/__edgesplit/metrics")
        assert status == 503 and b"at least 32 characters" in body
    finally:
        worker.control("env?name=EDGESPLIT_ADMIN_TOKEN&value=")


def shop_conversions(worker: Worker, admin: str) -> int:
    status, _, report = get(worker, "/__edgesplit/status.json", headers={"Authorization": f"Bearer {admin}"})
    assert status == 200, report
    shop = next(e for e in report["experiments"] if e["key"] == "shop")
    return sum(v["conversions"] for v in shop["variants"])


def test_edge_counters_object_counts_a_converting_visitor_once(worker: Worker) -> None:
    admin = "edge-security-admin-token-0123456789"
    worker.control(f"env?name=EDGESPLIT_ADMIN_TOKEN&value={admin}")
    try:
        token = token_for(worker, "edge-counted-0001")
        before = shop_conversions(worker, admin)  # the status page flushes this isolate's counts
        for n in range(3):
            assert post_track(worker, {"event": "buy", "id": f"counted-{n}", "token": token})[0] == 202
        assert shop_conversions(worker, admin) == before + 1
    finally:
        worker.control("env?name=EDGESPLIT_ADMIN_TOKEN&value=")
