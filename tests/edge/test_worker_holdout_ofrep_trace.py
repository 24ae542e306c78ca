"""Holdouts, OFREP and the decision trace in the Worker (Pyodide in Node, miniworkerd)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

from edge_support import Worker, get

from edgesplit.core import assign, parse_config, verify_token
from servers import CONFIG, KEYRING, MANIFESTS, known

ADMIN = "edge-admin-token-for-openness-0123456789"
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
    config = known(parse_config(HOLDOUT))
    visitors = [f"edge-holdout-{n:03d}" for n in range(40)]
    held = [v for v in visitors if config.holdout.contains(v)]
    assert held and len(held) < len(visitors)
    for visitor in visitors:
        _, _, body = get(worker, "/nocache/x", visitor)
        claims = verify_token(body["decision_header"], KEYRING, time.time(), manifests=MANIFESTS).claims
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


def test_official_ofrep_providers_against_the_worker(worker: Worker) -> None:
    from ofrep_support import WEB_KEY, ofrep_config, run_web_provider

    document = ofrep_config("edge-ofrep-1")
    use_config(worker, document)
    config = parse_config(document)
    base = worker.base + "/__edgesplit"
    flags = [("hero", "string"), ("hero:on", "boolean"), ("shop", "string"), ("gone", "string")]
    for visitor, path in [("edge-web-1", "/page/shop-1"), ("edge-web-2", "/page/home"), ("edge-web-3", "/x")]:
        out = run_web_provider(base, WEB_KEY, {"targetingKey": visitor, "path": path}, flags)
        assert out["ready"], out
        expected = assign(config, visitor, {"path": path})
        for key in ("hero", "shop"):
            assert out["details"][key]["value"] == (
                expected[key].variant or config.experiment(key).control.key
            )
        assert out["details"]["hero:on"]["value"] is (expected["hero"].variant == "bold")
        assert out["details"]["gone"]["errorCode"] == "FLAG_NOT_FOUND"
        token = out["details"]["shop"]["flagMetadata"]["decisionToken"]
        assert verify_token(token, KEYRING, time.time(), manifests=MANIFESTS).claims.visitor_id == visitor

    from openfeature import api
    from openfeature.contrib.provider.ofrep import OFREPProvider
    from openfeature.evaluation_context import EvaluationContext

    api.set_provider(OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {WEB_KEY}"}))
    client = api.get_client()
    for visitor in ("edge-py-1", "edge-py-2", "edge-py-3"):
        details = client.get_string_details(
            "hero", "d", EvaluationContext(targeting_key=visitor, attributes={"path": "/page/a"})
        )
        assert details.value == assign(config, visitor, {"path": "/page/a"})["hero"].variant
    status, headers, body = get(worker, "/__edgesplit/ofrep/v1/evaluate/flags", method="POST")
    assert status == 401


def test_decision_trace_at_the_edge_only_with_the_admin_token(worker: Worker) -> None:
    use_config(worker, {**CONFIG, "version": "edge-trace-1"})
    _, headers, _ = get(worker, "/page/edge-trace", "edge-trace-visitor", {"x-edgesplit-trace": ADMIN})
    assert "x-edgesplit-trace" not in headers  # no admin token configured: never
    set_env(worker, "EDGESPLIT_ADMIN_TOKEN", ADMIN)
    try:
        for wrong in ("", "guess", ADMIN[:-1]):
            _, headers, _ = get(
                worker, "/page/edge-trace", "edge-trace-visitor", {"x-edgesplit-trace": wrong}
            )
            assert "x-edgesplit-trace" not in headers
        _, headers, body = get(worker, "/echo", "edge-trace-visitor", {"x-edgesplit-trace": ADMIN})
        trace = json.loads(headers["x-edgesplit-trace"])
        assert trace["config_version"] == "edge-trace-1" and trace["visitor"] == "edge-trace-visitor"
        config = parse_config(CONFIG)
        expected = assign(config, "edge-trace-visitor", {"path": "/echo"})["hero"]
        assert (trace["experiments"]["hero"]["variant"], trace["experiments"]["hero"]["reason"]) == (
            expected.variant,
            expected.reason,
        )
        assert trace["cache"] in ("BYPASS", "MISS")
        assert "x-edgesplit-trace" not in {k.lower() for k in body["headers"]}  # never forwarded
    finally:
        set_env(worker, "EDGESPLIT_ADMIN_TOKEN", "")
