"""OFREP (``/__edgesplit/ofrep/v1/...``) through ``Pipeline.handle`` on the fakes: keys, bulk
answers and ETags, CORS, hostile bodies, exposures reported back through ``/track`` (also runs
inside Pyodide). The official providers against the real proxy stay in tests/proxy/test_ofrep_e2e."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flow_support import Flow, make_flow
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core import assign, parse_config
from edgesplit.pipeline.testing import request, run, virtual_time
from shared_documents import ALLOWED_ORIGIN, SERVER_KEY, WEB_KEY, digest, ofrep_config

FLAGS = "/__edgesplit/ofrep/v1/evaluate/flags"


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", "content-type": "application/json"}


def ofrep_flow() -> Flow:
    return make_flow(ofrep_config())


async def post(
    flow: Flow, path: str, body: Any = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
    return await flow.get(FLAGS + path, method=method, body=data, headers=headers or {})


@virtual_time
async def test_ofrep_is_off_by_default_and_needs_a_key() -> None:
    flow = make_flow()  # no ofrep section
    assert (await post(flow, "/hero", {"context": {"targetingKey": "a"}}, bearer(SERVER_KEY))).status == 404
    assert flow.holder.offer(ofrep_config()) is None
    for headers in ({}, bearer("not-a-key"), {"authorization": f"Basic {SERVER_KEY}"}):
        answer = await post(flow, "/hero", {"context": {"targetingKey": "a"}}, headers)
        assert answer.status == 401 and answer.headers.get("www-authenticate") == "Bearer", answer.body
    answer = await post(flow, "/hero", {"context": {"targetingKey": "a"}}, {"x-api-key": WEB_KEY})
    assert answer.status == 200 and answer.body["key"] == "hero"
    off = {**ofrep_config(), "version": "off"}
    off["ofrep"] = {**off["ofrep"], "enabled": False}
    assert flow.holder.offer(off) is None
    assert (await post(flow, "/hero", {"context": {"targetingKey": "a"}}, bearer(SERVER_KEY))).status == 404


@virtual_time
async def test_the_rate_limit_is_per_client_and_says_when_to_come_back() -> None:
    # The buckets live as long as the process: a key no other test used keeps this one alone.
    limited_key = "limited-key-" + secrets.token_hex(16)
    document = ofrep_config()
    document["ofrep"]["clients"] = [
        *document["ofrep"]["clients"],
        {"kind": "mobile", "key_sha256": digest(limited_key), "requests_per_minute": 1},
    ]
    flow = make_flow(document)
    ask = {"context": {"targetingKey": "a"}}
    assert (await post(flow, "/hero", ask, bearer(limited_key))).status == 200
    limited = await post(flow, "/hero", ask, bearer(limited_key))
    assert limited.status == 429 and 1 <= int(limited.headers.get("retry-after") or 0) <= 60
    assert (await post(flow, "/hero", ask, bearer(SERVER_KEY))).status == 200
    flow.clock.advance(61)
    assert (await post(flow, "/hero", ask, bearer(limited_key))).status == 200


@virtual_time
async def test_bulk_answers_every_flag_with_an_etag_and_304_when_unchanged() -> None:
    flow = ofrep_flow()
    context = {"context": {"targetingKey": "bulk-visitor", "path": "/page/shop-9"}}
    answer = await post(flow, "", context, bearer(WEB_KEY))
    assert answer.status == 200
    expected = assign(parse_config(ofrep_config()), "bulk-visitor", {"path": "/page/shop-9"})
    flags = {flag["key"]: flag for flag in answer.body["flags"]}
    assert set(flags) == {"hero", "hero:on", "shop", "elsewhere", "elsewhere:on"}
    assert flags["shop"]["value"] == expected["shop"].variant and flags["shop"]["reason"] == "SPLIT"
    assert flags["elsewhere"]["reason"] == "DEFAULT"
    assert flags["elsewhere"]["metadata"]["edgesplitReason"] == "not_targeted"
    etag = answer.headers.get("etag") or ""
    again = await post(flow, "", context, {**bearer(WEB_KEY), "if-none-match": etag})
    assert again.status == 304 and again.headers.get("etag") == etag
    weak = await post(flow, "", context, {**bearer(WEB_KEY), "if-none-match": f'W/{etag}, "other"'})
    assert weak.status == 304
    other = {"context": {"targetingKey": "bulk-visitor-2", "path": "/page/shop-9"}}
    someone_else = await post(flow, "", other, {**bearer(WEB_KEY), "if-none-match": etag})
    assert someone_else.status == 200 and someone_else.headers.get("etag") != etag
    assert flow.holder.offer(ofrep_config("ofrep-2")) is None
    changed = await post(flow, "", context, {**bearer(WEB_KEY), "if-none-match": etag})
    assert changed.status == 200  # a new config version is a new answer
    missing = await post(flow, "", {"context": {"path": "/"}}, bearer(WEB_KEY))
    assert missing.status == 400 and missing.body["errorCode"] == "TARGETING_KEY_MISSING"
    assert set(missing.body) == {"errorCode", "errorDetails"}
    broken = await post(flow, "", b"{not json", bearer(WEB_KEY))
    assert broken.status == 400 and broken.body["errorCode"] == "PARSE_ERROR"


@virtual_time
async def test_cors_allows_only_the_listed_origins() -> None:
    flow = ofrep_flow()
    preflight = {"origin": ALLOWED_ORIGIN, "access-control-request-method": "POST"}
    answer = await post(flow, "", None, preflight, method="OPTIONS")
    assert answer.status == 204 and answer.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    allowed = answer.headers.get("access-control-allow-headers") or ""
    assert "authorization" in allowed and "if-none-match" in allowed
    answer = await post(flow, "", None, {**preflight, "origin": "https://evil.example"}, method="OPTIONS")
    assert answer.status == 403 and "access-control-allow-origin" not in answer.headers
    body = {"context": {"targetingKey": "v"}}
    answer = await post(flow, "", body, {**bearer(WEB_KEY), "origin": ALLOWED_ORIGIN})
    assert answer.status == 200 and answer.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    assert "etag" in (answer.headers.get("access-control-expose-headers") or "")
    answer = await post(flow, "", body, {**bearer(WEB_KEY), "origin": "https://evil.example"})
    assert answer.status == 403 and "access-control-allow-origin" not in answer.headers


@settings(max_examples=60, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda doc: json.dumps({"context": doc}).encode()),
    )
)
def test_hostile_bodies_get_an_answer_never_a_500(body: bytes) -> None:
    flow = ofrep_flow()
    for path in ("", "/hero"):
        answer = run(post(flow, path, body, bearer(SERVER_KEY)))
        assert answer.status in (200, 400), (answer.status, answer.body)
        if answer.status == 400:
            assert answer.body["errorCode"] in ("PARSE_ERROR", "INVALID_CONTEXT", "TARGETING_KEY_MISSING")


@virtual_time
async def test_exposures_are_reported_with_the_token_and_counted_once() -> None:
    flow = ofrep_flow()
    config = parse_config(ofrep_config())
    visitor = next(
        f"ofrep-visitor-{n:03d}"
        for n in range(100)
        if assign(config, f"ofrep-visitor-{n:03d}", {"path": "/page/a"})["hero"].in_experiment
    )
    answer = await post(flow, "", {"context": {"targetingKey": visitor, "path": "/page/a"}}, bearer(WEB_KEY))
    token = answer.body["flags"][0]["metadata"]["decisionToken"]
    for _ in range(2):  # a retried report is the same exposure
        status, _ = await flow.track({"type": "exposure", "experiment": "hero", "token": token})
        assert status == 202
    exposures = flow.outbox.of_type("exposure")
    assert len({e["id"] for e in exposures}) == 1
    assert (
        exposures[0]["visitor_id"] == visitor
        and exposures[0]["variant"] == answer.body["flags"][0]["variant"]
    )
    assert len(flow.observer.requests) == 1  # the guardrail counts see it once
    status, body = await flow.track({"type": "exposure", "experiment": "elsewhere", "token": token})
    assert status == 400 and "not an exposure" in body["error"]
    status, _ = await flow.track({"type": "exposure", "experiment": "hero", "token": token[:-3] + "AAA"})
    assert status == 401


@virtual_time
async def test_a_browser_app_on_an_allowed_origin_may_report_to_track() -> None:
    flow = ofrep_flow()
    preflight = {"origin": ALLOWED_ORIGIN, "access-control-request-method": "POST"}
    answer = await flow.get("/__edgesplit/track", method="OPTIONS", headers=preflight)
    assert answer.status == 204 and answer.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    evaluated = await post(flow, "/hero", {"context": {"targetingKey": "cors-buyer-1"}}, bearer(WEB_KEY))
    report = {"event": "buy", "token": evaluated.body["metadata"]["decisionToken"]}
    response, _ = await flow.send(
        _track_request(report, {"origin": ALLOWED_ORIGIN}),
    )
    assert response.status == 202 and response.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    response, _ = await flow.send(
        _track_request({**report, "event": "buy-2"}, {"origin": "https://evil.example"})
    )
    assert response.status == 202 and "access-control-allow-origin" not in response.headers  # no CORS
    evil = {**preflight, "origin": "https://evil.example"}
    answer = await flow.get("/__edgesplit/track", method="OPTIONS", headers=evil)
    assert "access-control-allow-origin" not in answer.headers


def _track_request(report: dict[str, Any], headers: dict[str, str]) -> Any:
    return request(
        "POST",
        "http://shop.test/__edgesplit/track",
        {"content-type": "application/json", **headers},
        json.dumps(report).encode(),
    )
