"""Issue 13, findings 6-10 (low and info). Host, absolute-form, dot segments and the
underscore header are in ``test_sec_cache_poisoning``; the rest is here."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from proxy_support import ADMIN_TOKEN, running_proxy, status_of

from edgesplit import load_config
from edgesplit.core import DecisionClaims, sign_token
from edgesplit.pipeline.track import TrackError, parse_track
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import KEYRING


def signed(
    visitor: str, assignments: dict[str, str], held_out: frozenset[str] = frozenset(), age: int = 0
) -> str:
    now = int(time.time()) - age
    return sign_token(
        DecisionClaims(visitor, assignments, "security-1", now, now + 86_400, held_out), KEYRING
    )


async def test_a_huge_integer_value_is_a_400_not_a_500(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        status, body = await proxy.track('{"event": "purchase", "value": ' + "9" * 400 + "}")
        assert status == 400 and body["error"] == "value: must be a finite number"


async def test_a_malformed_request_logs_one_line_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_proxy(tmp_path) as proxy:
        for request in (
            b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
            b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        ):
            assert status_of(await proxy.raw(request)) == 400
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


def test_drift_cannot_be_reported_with_a_forced_token() -> None:
    body = json.dumps(
        {
            "type": "drift",
            "experiment": "hero",
            "expected": "control",
            "observed": "bold",
            "first_token": signed("drifter-00000001", {"hero": "control"}, age=600),
            "token": signed("drifter-00000001", {"hero": "bold"}, held_out=frozenset({"hero"})),
        }
    ).encode()
    result = parse_track(body, None, KEYRING, time.time())
    assert isinstance(result, TrackError) and result.status == 400


async def test_a_replayed_drift_report_counts_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = {
        "type": "drift",
        "experiment": "hero",
        "expected": "control",
        "observed": "bold",
        "first_token": signed("drifter-00000002", {"hero": "control"}, age=600),
        "token": signed("drifter-00000002", {"hero": "bold"}),
    }
    async with running_proxy(tmp_path) as proxy:
        statuses = [(await proxy.track(report))[0] for _ in range(200)]
        assert set(statuses) == {202}
        assert proxy.metric("edgesplit_drift_total", experiment="hero") == 1
        assert len([e for e in proxy.outbox.events if e.get("type") == "drift"]) == 1
    assert len([r for r in caplog.records if "drift reported" in r.getMessage()]) == 1


async def test_admin_sign_in_locks_out_a_guesser(tmp_path: Path) -> None:
    async with running_proxy(tmp_path, admin_token=ADMIN_TOKEN) as proxy:

        async def sign_in(token: str) -> int:
            async with proxy.client.post(
                proxy.base + "/__edgesplit/status", data={"token": token}, allow_redirects=False
            ) as resp:
                return resp.status

        assert [await sign_in(f"guess-{n}") for n in range(10)] == [401] * 10
        assert await sign_in(ADMIN_TOKEN) == 429  # locked: even the right token learns nothing
        assert proxy.metric("edgesplit_admin_locked_out_total") == 1
        assert proxy.metric("edgesplit_admin_denied_total") == 10


async def test_wrong_tokens_on_metrics_are_counted(tmp_path: Path) -> None:
    async with running_proxy(tmp_path, admin_token=ADMIN_TOKEN) as proxy:
        for n in range(3):
            status, _, _ = await proxy.get(
                "/__edgesplit/metrics", headers={"Authorization": f"Bearer wrong-{n}"}
            )
            assert status == 401
        assert proxy.metric("edgesplit_admin_denied_total") == 3
        status, _, _ = await proxy.get(
            "/__edgesplit/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert status == 200


def test_a_short_admin_token_is_refused(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"schema_version": 1, "version": "v", "experiments": []}))
    options = ProxyOptions(
        origin="http://127.0.0.1:9", port=0, admin_token="hunter2", queue_dir=str(tmp_path)
    )
    with pytest.raises(ValueError, match="at least 32 characters"):
        ProxyService(options, load_config(str(config_path)), KEYRING)
