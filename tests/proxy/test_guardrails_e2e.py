"""End to end: a variant that breaks the origin gets paused by the guardrail; afterwards every
visitor receives the control and no new exposures are counted for the experiment."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from edgesplit import load_config
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import KEYRING, TestOrigin, known, start_app

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"


def run_cli(*args: str) -> str:
    result = subprocess.run([EDGESPLIT, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


CONFIG = {
    "schema_version": 1,
    "version": "guard-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "fragile",
            "variants": [{"key": "a"}, {"key": "b"}],
            "targeting": {"paths": ["/fragile"]},
            "guardrails": {"min_sample": 100, "metrics": ["errors"], "alpha": 0.01},
        }
    ],
}


async def test_harmful_variant_is_paused_and_everyone_gets_control(tmp_path: Path) -> None:
    origin = TestOrigin()
    runner, port = await start_app(origin.app())
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(CONFIG))
    outbox = MemoryOutbox()
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{port}",
        port=0,
        config_path=str(config_path),
        queue_dir=str(tmp_path / "state"),
        guardrail_interval=0.2,
        reload_interval=0.1,
    )
    service = ProxyService(options, known(load_config(str(config_path))), KEYRING, outbox=outbox)
    await service.start()
    base = f"http://127.0.0.1:{service.port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:

            async def visit(visitor: str) -> tuple[int, dict]:
                async with client.get(
                    f"{base}/fragile",
                    headers={"Cookie": f"edgesplit_id={visitor}", "User-Agent": "Mozilla/5.0"},
                ) as resp:
                    return resp.status, await resp.json()

            statuses = []
            for n in range(2000):
                statuses.append((await visit(f"before-{n:06d}"))[0])
                if service.holder.current.experiment("fragile").status == "paused":  # type: ignore[union-attr]
                    break
                if n % 50 == 49:
                    await asyncio.sleep(0.25)  # let the updater look
            assert 500 in statuses
            paused = service.holder.current.experiment("fragile")
            assert paused is not None and paused.status == "paused"
            assert "errors harm in variant 'b'" in paused.pause["reason"]  # type: ignore[index]
            on_disk = json.loads(config_path.read_text())["experiments"][0]
            assert on_disk["status"] == "paused" and on_disk["pause"]["by"] == "edgesplit guardrail"
            exposures_before = sum(1 for e in outbox.events if e.get("experiment") == "fragile")
            for n in range(200):
                status, body = await visit(f"after-{n:06d}")
                assert status == 200 and body["assignments"] == {"fragile": "a"}
            assert sum(1 for e in outbox.events if e.get("experiment") == "fragile") == exposures_before
        await service.guardrails.tick()  # flush the counts before reading them from outside

        status = json.loads(
            run_cli("status", "--config", str(config_path), "--state-dir", str(tmp_path / "state"))
        )
        report = next(e for e in status["experiments"] if e["key"] == "fragile")
        b = next(v for v in report["variants"] if v["key"] == "b")
        assert report["status"] == "paused" and b["errors"] == b["requests"] > 0
        guardrail = report["guardrail"]
        assert guardrail["p_values"]["errors:b"] < 0.01 and guardrail["pause"]["by"] == "edgesplit guardrail"
        assert guardrail["state"] == "paused"
        assert [item["kind"] for item in report["history"]] == ["paused"]
        out = run_cli(
            "experiment",
            "resume",
            "fragile",
            "--config",
            str(config_path),
            "--state-dir",
            str(tmp_path / "state"),
        )
        assert out.startswith("resumed 'fragile' (was paused: errors harm")
        resumed = json.loads(config_path.read_text())["experiments"][0]
        assert resumed["status"] == "running" and "pause" not in resumed
        status = json.loads(
            run_cli("status", "--config", str(config_path), "--state-dir", str(tmp_path / "state"))
        )
        assert [item["kind"] for item in status["experiments"][0]["history"]] == ["resumed", "paused"]
    finally:
        await service.stop()
        await runner.cleanup()


async def test_bandit_visitors_keep_their_variant_through_the_decision_cookie(tmp_path: Path) -> None:
    origin = TestOrigin()
    runner, port = await start_app(origin.app())
    document = {
        "schema_version": 1,
        "version": "bandit-1",
        "identity": {"secure": False},
        "experiments": [
            {
                "key": "arm",
                "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}],
                "targeting": {"paths": ["/page/**"]},
                "bandit": {"min_weight": 0.01, "max_weight": 0.99},
            }
        ],
    }
    service = ProxyService(
        ProxyOptions(origin=f"http://127.0.0.1:{port}", port=0, queue_dir=str(tmp_path)),
        known(load_config(document)),
        KEYRING,
        outbox=MemoryOutbox(),
    )
    await service.start()
    base = f"http://127.0.0.1:{service.port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            seen = {}
            for n in range(40):
                visitor = f"sticky-{n:04d}"
                async with client.get(
                    f"{base}/page/x", headers={"Cookie": f"edgesplit_id={visitor}"}
                ) as resp:
                    cookie = [
                        c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")
                    ][0]
                    seen[visitor] = ((await resp.json())["assignments"]["arm"], cookie.split(";")[0])
            document["version"] = "bandit-2"
            document["experiments"][0]["variants"] = [
                {"key": "a", "weight": 0.01},
                {"key": "b", "weight": 0.99},
            ]
            assert service.holder.offer(document) is None
            for visitor, (variant, decision_cookie) in seen.items():
                headers = {"Cookie": f"edgesplit_id={visitor}; {decision_cookie}"}
                async with client.get(f"{base}/page/x", headers=headers) as resp:
                    assert (await resp.json())["assignments"]["arm"] == variant
            assert "a" in {variant for variant, _ in seen.values()}
    finally:
        await service.stop()
        await runner.cleanup()
