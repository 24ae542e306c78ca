"""OFREP through the real proxy, with the official providers: PyPI's openfeature-provider-ofrep
and npm's @openfeature/ofrep-web-provider (with @openfeature/web-sdk, in Node)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_stack import Stack

from edgesplit.core import assign, parse_config, verify_token
from ofrep_support import (
    ALLOWED_ORIGIN,
    LIMITED_KEY,
    SERVER_KEY,
    WEB_KEY,
    ofrep_config,
    parse_web_output,
    web_command,
)
from servers import CONFIG, KEYRING

api = pytest.importorskip("openfeature.api")
ofrep_provider = pytest.importorskip("openfeature.contrib.provider.ofrep")
from openfeature.evaluation_context import EvaluationContext  # noqa: E402
from openfeature.exception import ErrorCode  # noqa: E402

VISITORS = [f"ofrep-visitor-{n:03d}" for n in range(25)]
PATHS = ["/page/home", "/page/shop-1", "/other", "/nowhere"]


def use_ofrep(stack: Stack) -> dict:
    document = ofrep_config()
    assert stack.service.pipeline.config.offer(document) is None
    return document


async def post(
    stack: Stack, path: str, body: object = None, headers: dict | None = None, method: str = "POST"
) -> tuple[Any, Any]:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body) if body is not None else None
    return await stack.get(
        "/__edgesplit/ofrep/v1/evaluate/flags" + path, method=method, data=data, headers=headers or {}
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


async def test_ofrep_is_off_by_default_and_needs_a_key(stack: Stack) -> None:
    resp, _ = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, bearer(SERVER_KEY))
    assert resp.status == 404  # the config has no ofrep section
    use_ofrep(stack)
    for headers in ({}, bearer("not-a-key"), {"Authorization": f"Basic {SERVER_KEY}"}):
        resp, body = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, headers)
        assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer", body
    resp, body = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, {"X-API-Key": WEB_KEY})
    assert resp.status == 200 and body["key"] == "hero"
    off = {**ofrep_config(), "version": "off"}
    off["ofrep"] = {**off["ofrep"], "enabled": False}
    assert stack.service.pipeline.config.offer(off) is None
    resp, _ = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, bearer(SERVER_KEY))
    assert resp.status == 404


def python_provider(base: str, key: str):  # noqa: ANN201
    api.set_provider(
        ofrep_provider.OFREPProvider(base, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    )
    return api.get_client()


async def test_the_official_python_provider_gets_what_edgesplit_assign_gives(stack: Stack) -> None:
    use_ofrep(stack)
    config = parse_config(ofrep_config())

    def evaluate() -> list[tuple]:
        client = python_provider(stack.base + "/__edgesplit", SERVER_KEY)
        out = []
        for visitor in VISITORS:
            for path in PATHS:
                context = EvaluationContext(targeting_key=visitor, attributes={"path": path})
                for key in ("hero", "shop", "elsewhere"):
                    out.append((visitor, path, key, client.get_string_details(key, "fallback", context)))
                out.append((visitor, path, "hero:on", client.get_boolean_details("hero:on", False, context)))
        return out

    results = await asyncio.to_thread(evaluate)
    for visitor, path, key, details in results:
        expected = assign(config, visitor, {"path": path})[key.removesuffix(":on")]
        control = config.experiment(key.removesuffix(":on")).control.key
        variant = expected.variant or control
        assert details.error_code is None, details
        assert details.variant == variant
        assert details.value == (variant != control if key.endswith(":on") else variant)
        assert details.reason == ("SPLIT" if expected.in_experiment else "DEFAULT")
        assert details.flag_metadata["inExperiment"] is expected.in_experiment
        claims = verify_token(details.flag_metadata["decisionToken"], KEYRING, time.time()).claims
        assert (
            claims.visitor_id == visitor
            and claims.assignments.get(key.removesuffix(":on")) == expected.variant
        )
    assert [e for e in stack.outbox.events if e["type"] == "exposure"] == []  # evaluation is not exposure


async def test_the_python_provider_sees_the_spec_error_codes(stack: Stack) -> None:
    use_ofrep(stack)

    def evaluate() -> dict:
        client = python_provider(stack.base + "/__edgesplit", SERVER_KEY)
        return {
            "missing": client.get_string_details("nope", "d", EvaluationContext(targeting_key="v")),
            "no_key": client.get_string_details("hero", "d", EvaluationContext(attributes={"path": "/"})),
            "bad_path": client.get_string_details(
                "hero", "d", EvaluationContext(targeting_key="v", attributes={"path": 3})
            ),
            "three_way_boolean": client.get_boolean_details(
                "shop:on", False, EvaluationContext(targeting_key="v")
            ),
            "type": client.get_boolean_details("hero", False, EvaluationContext(targeting_key="v")),
        }

    got = await asyncio.to_thread(evaluate)
    assert got["missing"].error_code == ErrorCode.FLAG_NOT_FOUND and got["missing"].value == "d"
    assert got["no_key"].error_code == ErrorCode.TARGETING_KEY_MISSING
    assert got["bad_path"].error_code == ErrorCode.INVALID_CONTEXT
    assert got["three_way_boolean"].error_code == ErrorCode.FLAG_NOT_FOUND  # only two-variant experiments
    assert got["type"].error_code == ErrorCode.TYPE_MISMATCH


async def test_rate_limit_answers_429_with_retry_after_and_the_provider_backs_off(stack: Stack) -> None:
    use_ofrep(stack)
    resp, _ = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, bearer(LIMITED_KEY))
    assert resp.status == 200
    resp, body = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, bearer(LIMITED_KEY))
    assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60, body
    resp, _ = await post(stack, "/hero", {"context": {"targetingKey": "a"}}, bearer(SERVER_KEY))
    assert resp.status == 200  # limits are per client

    def evaluate() -> tuple:
        client = python_provider(stack.base + "/__edgesplit", LIMITED_KEY)
        first = client.get_string_details("hero", "d", EvaluationContext(targeting_key="v"))
        second = client.get_string_details("hero", "d", EvaluationContext(targeting_key="v"))
        return first, second

    first, second = await asyncio.to_thread(evaluate)
    assert first.error_code == ErrorCode.GENERAL and "Rate limited" in first.error_message
    assert "paused" in second.error_message  # it honoured Retry-After without asking again


async def test_bulk_answers_every_flag_with_an_etag_and_304_when_unchanged(stack: Stack) -> None:
    use_ofrep(stack)
    context = {"context": {"targetingKey": "bulk-visitor", "path": "/page/shop-9"}}
    resp, body = await post(stack, "", context, bearer(WEB_KEY))
    assert resp.status == 200
    config = parse_config(ofrep_config())
    expected = assign(config, "bulk-visitor", {"path": "/page/shop-9"})
    flags = {flag["key"]: flag for flag in body["flags"]}
    assert set(flags) == {"hero", "hero:on", "shop", "elsewhere", "elsewhere:on"}
    assert flags["shop"]["value"] == expected["shop"].variant and flags["shop"]["reason"] == "SPLIT"
    assert (
        flags["elsewhere"]["reason"] == "DEFAULT"
        and flags["elsewhere"]["metadata"]["edgesplitReason"] == "not_targeted"
    )
    etag = resp.headers["ETag"]
    resp, _ = await post(stack, "", context, {**bearer(WEB_KEY), "If-None-Match": etag})
    assert resp.status == 304 and resp.headers["ETag"] == etag
    resp, _ = await post(stack, "", context, {**bearer(WEB_KEY), "If-None-Match": f'W/{etag}, "other"'})
    assert resp.status == 304
    other = {"context": {"targetingKey": "bulk-visitor-2", "path": "/page/shop-9"}}
    resp, _ = await post(stack, "", other, {**bearer(WEB_KEY), "If-None-Match": etag})
    assert resp.status == 200 and resp.headers["ETag"] != etag
    changed = {**ofrep_config("ofrep-2")}
    assert stack.service.pipeline.config.offer(changed) is None
    resp, _ = await post(stack, "", context, {**bearer(WEB_KEY), "If-None-Match": etag})
    assert resp.status == 200  # a new config version is a new answer
    resp, body = await post(stack, "", {"context": {"path": "/"}}, bearer(WEB_KEY))
    assert resp.status == 400 and body == {
        "errorCode": "TARGETING_KEY_MISSING",
        "errorDetails": body["errorDetails"],
    }
    resp, body = await post(stack, "", b"{not json", bearer(WEB_KEY))
    assert resp.status == 400 and body["errorCode"] == "PARSE_ERROR"


async def test_cors_allows_only_the_listed_origins(stack: Stack) -> None:
    use_ofrep(stack)
    preflight = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
    resp, _ = await post(stack, "", None, preflight, method="OPTIONS")
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert "if-none-match" in resp.headers["Access-Control-Allow-Headers"]
    resp, _ = await post(stack, "", None, {**preflight, "Origin": "https://evil.example"}, method="OPTIONS")
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers
    body = {"context": {"targetingKey": "v"}}
    resp, _ = await post(stack, "", body, {**bearer(WEB_KEY), "Origin": ALLOWED_ORIGIN})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "etag" in resp.headers["Access-Control-Expose-Headers"]
    resp, _ = await post(stack, "", body, {**bearer(WEB_KEY), "Origin": "https://evil.example"})
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers


async def test_the_official_web_provider_in_node_gets_what_edgesplit_assign_gives(stack: Stack) -> None:
    use_ofrep(stack)
    config = parse_config(ofrep_config())
    flags = [("hero", "string"), ("hero:on", "boolean"), ("shop", "string"), ("missing", "string")]
    for visitor, path in [
        ("web-visitor-1", "/page/shop-2"),
        ("web-visitor-2", "/page/home"),
        ("web-visitor-7", "/other"),
    ]:
        process = await asyncio.create_subprocess_exec(
            *web_command(
                stack.base + "/__edgesplit", WEB_KEY, {"targetingKey": visitor, "path": path}, flags
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, stderr.decode()[-3000:]
        out = parse_web_output(stdout.decode())
        assert out["ready"], out
        expected = assign(config, visitor, {"path": path})
        for key in ("hero", "shop"):
            variant = expected[key].variant or config.experiment(key).control.key
            assert out["details"][key]["value"] == variant
            assert out["details"][key]["reason"] == ("SPLIT" if expected[key].in_experiment else "DEFAULT")
        assert out["details"]["hero:on"]["value"] is (expected["hero"].variant == "bold")
        assert out["details"]["missing"] == {
            **out["details"]["missing"],
            "value": "DEFAULT-VALUE",
            "errorCode": "FLAG_NOT_FOUND",
        }
        token = out["details"]["hero"]["flagMetadata"]["decisionToken"]
        assert verify_token(token, KEYRING, time.time()).claims.visitor_id == visitor


async def test_the_web_provider_without_a_key_fails_to_initialise(stack: Stack) -> None:
    use_ofrep(stack)
    process = await asyncio.create_subprocess_exec(
        *web_command(stack.base + "/__edgesplit", "wrong", {"targetingKey": "v"}, [("hero", "string")]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    out = parse_web_output(stdout.decode())
    assert not out["ready"] and out["details"]["hero"]["value"] == "DEFAULT-VALUE", (out, stderr[-2000:])


async def test_the_decision_token_reports_conversions_to_track(stack: Stack) -> None:
    use_ofrep(stack)
    resp, body = await post(
        stack, "/hero", {"context": {"targetingKey": "buyer-1", "path": "/page/x"}}, bearer(SERVER_KEY)
    )
    token = body["metadata"]["decisionToken"]
    async with stack.client.post(
        stack.base + "/__edgesplit/track", json={"event": "buy", "token": token}
    ) as r:
        assert r.status == 202
    [conversion] = [e for e in stack.outbox.events if e["type"] == "conversion"]
    assert conversion["visitor_id"] == "buyer-1" and conversion["assignments"] == {"hero": body["variant"]}


def test_assignments_equal_the_edgesplit_assign_command(tmp_path: Path) -> None:
    """The CLI, in its own process, against the core the endpoint uses."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(CONFIG))
    config = parse_config(CONFIG)
    for visitor in VISITORS[:5]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "edgesplit.cli",
                "assign",
                str(config_path),
                "--id",
                visitor,
                "--attr",
                "path=/page/shop-3",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        printed = json.loads(result.stdout)
        expected = assign(config, visitor, {"path": "/page/shop-3"})
        assert {k: v["variant"] for k, v in printed.items()} == {k: a.variant for k, a in expected.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
async def test_hostile_bodies_get_an_answer_never_a_500(stack: Stack, body: bytes) -> None:
    use_ofrep(stack)
    for path in ("", "/hero"):
        resp, answer = await post(stack, path, body, bearer(SERVER_KEY))
        assert resp.status in (200, 400), (resp.status, answer)
        if resp.status == 400:
            assert answer["errorCode"] in ("PARSE_ERROR", "INVALID_CONTEXT", "TARGETING_KEY_MISSING")


async def test_exposures_are_reported_with_the_token_and_counted(stack: Stack) -> None:
    use_ofrep(stack)
    stack.service.pipeline.admin.admin_token = "admin-token-for-the-ofrep-tests-0123456789"
    config = parse_config(ofrep_config())
    visitor = next(v for v in VISITORS if assign(config, v, {"path": "/page/a"})["hero"].in_experiment)
    resp, body = await post(
        stack, "", {"context": {"targetingKey": visitor, "path": "/page/a"}}, bearer(WEB_KEY)
    )
    token = body["flags"][0]["metadata"]["decisionToken"]
    track = stack.base + "/__edgesplit/track"
    for _ in range(2):  # a retried report is the same exposure
        async with stack.client.post(
            track, json={"type": "exposure", "experiment": "hero", "token": token}
        ) as r:
            assert r.status == 202
    exposures = [e for e in stack.outbox.events if e["type"] == "exposure"]
    assert len({e["id"] for e in exposures}) == 1
    assert exposures[0]["visitor_id"] == visitor and exposures[0]["variant"] == body["flags"][0]["variant"]
    async with stack.client.post(
        track, json={"type": "exposure", "experiment": "elsewhere", "token": token}
    ) as r:
        assert r.status == 400 and "not an exposure" in (await r.json())["error"]
    async with stack.client.post(
        track, json={"type": "exposure", "experiment": "hero", "token": token[:-3] + "AAA"}
    ) as r:
        assert r.status == 401
    resp, report = await stack.get(
        "/__edgesplit/status.json",
        headers={"Authorization": "Bearer admin-token-for-the-ofrep-tests-0123456789"},
    )
    hero = next(e for e in report["experiments"] if e["key"] == "hero")
    assert sum(v["exposures"] for v in hero["variants"]) == 1


async def test_a_browser_app_on_an_allowed_origin_may_report_to_track(stack: Stack) -> None:
    use_ofrep(stack)
    track = stack.base + "/__edgesplit/track"
    preflight = {"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
    async with stack.client.options(track, headers=preflight) as resp:
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    _, body = await post(stack, "/hero", {"context": {"targetingKey": "cors-buyer-1"}}, bearer(WEB_KEY))
    report = {"event": "buy", "token": body["metadata"]["decisionToken"]}
    async with stack.client.post(track, json=report, headers={"Origin": ALLOWED_ORIGIN}) as resp:
        assert resp.status == 202 and resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    async with stack.client.post(track, json=report, headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 202 and "Access-Control-Allow-Origin" not in resp.headers  # as before: no CORS
    async with stack.client.options(track, headers={**preflight, "Origin": "https://evil.example"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
