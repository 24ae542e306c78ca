"""OFREP through the real proxy, with the official providers: PyPI's openfeature-provider-ofrep
and npm's @openfeature/ofrep-web-provider (with @openfeature/web-sdk, in Node). Keys, ETags,
CORS, hostile bodies and exposures reported to /track are tested on the pipeline itself
(tests/pipeline/test_ofrep_routes.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from local_stack import Stack

from edgesplit.core import assign, parse_config, verify_token
from ofrep_support import (
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
