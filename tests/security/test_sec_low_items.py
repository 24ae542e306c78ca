"""Issue 13, findings 6-10 (low and info). Host, absolute-form, dot segments and the
underscore header are in ``test_sec_cache_poisoning``; the rest is here."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from proxy_support import running_proxy, status_of

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


def test_a_short_admin_token_is_refused(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps({"schema_version": 1, "version": "v", "experiments": []}))
    options = ProxyOptions(
        origin="http://127.0.0.1:9", port=0, admin_token="hunter2", queue_dir=str(tmp_path)
    )
    with pytest.raises(ValueError, match="at least 32 characters"):
        ProxyService(options, load_config(str(config_path)), KEYRING)
