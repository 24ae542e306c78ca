"""Decision sizes through the self-hosted proxy, es2 (compact) next to es1 (names in JSON).

    .venv/bin/python bench/token_size.py [--out bench/results/token_size.json]

Starts a real proxy (``ProxyService``, as ``edgesplit serve`` does) in front of an origin that
reports the decision header it received, with configs of N experiments named like issue 19's
(``experiment-number-001``, variants ``control`` / ``treatment-long-name``), all applying to the
page. For each N it records the decision Set-Cookie and the decision header, in bytes, as the
proxy sends them (es2), and the es1 token of the very same claims signed by the core (what the
proxy sent before). Sizes do not depend on machine load; the CPU times (process time, median
of 5 rounds) of verifying one token of each form at that N are given as their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from edgesplit.core import (
    DecisionClaims,
    HmacKey,
    Keyring,
    Manifest,
    ManifestBook,
    parse_config,
    sign_token,
    verify_token,
)
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService

COUNTS = (1, 20, 80, 100, 200, 500, 1000)
KEYRING = Keyring((HmacKey("2026-11", bytes(range(32))),))
VISITOR = "bench-visitor-000000000001"  # 26 characters, like the generated ids


def document(count: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "version": f"sizes-{count}",
        "experiments": [
            {
                "key": f"experiment-number-{i:03}",
                "variants": [{"key": "control"}, {"key": "treatment-long-name"}],
            }
            for i in range(count)
        ],
    }


async def through_proxy(count: int, origin_port: int, seen: list[str], state: Path) -> tuple[str, str]:
    config = parse_config(document(count))
    options = ProxyOptions(
        origin=f"http://127.0.0.1:{origin_port}", port=0, queue_dir=str(state / str(count))
    )
    service = ProxyService(options, config, KEYRING, outbox=MemoryOutbox())
    await service.start()
    try:
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client,
            client.get(
                f"http://127.0.0.1:{service.port}/page",
                headers={"Cookie": f"edgesplit_id={VISITOR}", "User-Agent": "Mozilla/5.0 Firefox/130.0"},
            ) as resp,
        ):
            await resp.read()
            [cookie] = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    finally:
        await service.stop()
    return cookie, seen[-1]


def cpu_per_call(call: Any, rounds: int = 5, repeat: int = 50) -> float:
    times = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(repeat):
            call()
        times.append((time.process_time() - started) / repeat)
    return statistics.median(times)


def es1_of(cookie_token: str, manifest: Manifest) -> tuple[str, DecisionClaims]:
    result = verify_token(cookie_token, KEYRING, time.time(), manifests=ManifestBook([manifest]))
    assert result.ok and result.claims is not None, result.reason
    c = result.claims
    legacy = DecisionClaims(
        c.visitor_id, c.assignments, c.config_version, c.issued_at, c.expires_at, c.held_out
    )
    return sign_token(legacy, KEYRING), c


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "token_size.json"))
    args = parser.parse_args()
    seen: list[str] = []

    async def page(request: web.Request) -> web.Response:
        seen.append(request.headers.get("x-edgesplit-decision", ""))
        return web.Response(text="ok", headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    origin_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    rows = []
    with tempfile.TemporaryDirectory() as state:
        try:
            for count in COUNTS:
                cookie, header = await through_proxy(count, origin_port, seen, Path(state))
                manifest = Manifest.from_config(parse_config(document(count)))
                token = cookie.split(";")[0].split("=", 1)[1]
                legacy, claims = es1_of(token, manifest)
                attributes = cookie.split(";", 1)[1]
                legacy_cookie = f"edgesplit_decision={legacy};{attributes}"
                book = ManifestBook([manifest])
                now = time.time()
                es2_cpu = cpu_per_call(
                    lambda t=header, n=now, b=book: verify_token(t, KEYRING, n, manifests=b)
                )
                es1_verifies = verify_token(legacy, KEYRING, now).ok  # es1 over 8,192 bytes never did
                es1_cpu = (
                    cpu_per_call(lambda t=legacy, n=now: verify_token(t, KEYRING, n))
                    if es1_verifies
                    else None
                )
                legacy_claims = replace(claims, manifest=None)
                sign_ratio = cpu_per_call(lambda c=claims: sign_token(c, KEYRING)) / cpu_per_call(
                    lambda c=legacy_claims: sign_token(c, KEYRING)
                )
                rows.append(
                    {
                        "experiments": count,
                        "sign_cpu_es2_over_es1": round(sign_ratio, 2),
                        "es2_set_cookie_bytes": len(cookie.encode()),
                        "es2_header_bytes": len(header.encode()),
                        "es1_set_cookie_bytes": len(legacy_cookie.encode()),
                        "es1_header_bytes": len(legacy.encode()),
                        "manifest_bytes": len(manifest.text),
                        "verify_cpu_es2_us": round(es2_cpu * 1e6, 1),
                        "verify_cpu_es2_over_es1": round(es2_cpu / es1_cpu, 2) if es1_cpu else None,
                        "assignments": len(claims.assignments),
                    }
                )
        finally:
            await runner.cleanup()
    base = rows[0]
    for row in rows[1:]:
        extra = row["experiments"] - base["experiments"]
        row["es2_bytes_per_experiment"] = round(
            (row["es2_header_bytes"] - base["es2_header_bytes"]) / extra, 2
        )
        row["es1_bytes_per_experiment"] = round(
            (row["es1_header_bytes"] - base["es1_header_bytes"]) / extra, 2
        )
    result = {"command": "python bench/token_size.py", "python": sys.version.split()[0], "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(
        "| experiments | es2 Set-Cookie | es2 header | es1 Set-Cookie | es1 header | es2 B/exp | es1 B/exp |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['experiments']} | {row['es2_set_cookie_bytes']:,} | {row['es2_header_bytes']:,} | "
            f"{row['es1_set_cookie_bytes']:,} | {row['es1_header_bytes']:,} | "
            f"{row.get('es2_bytes_per_experiment', '')} | {row.get('es1_bytes_per_experiment', '')} |"
        )
    print("sign CPU es2/es1:", {row["experiments"]: row["sign_cpu_es2_over_es1"] for row in rows})
    print("verify CPU es2 (us):", {row["experiments"]: row["verify_cpu_es2_us"] for row in rows})
    print(
        "verify CPU es2/es1 (where es1 verifies):",
        {row["experiments"]: row["verify_cpu_es2_over_es1"] for row in rows},
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
