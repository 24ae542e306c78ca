"""The status page in headless Chromium against the demo: sign-in, numbers that match the
metrics and what visitors were given, charts that draw those numbers, no external assets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from browser_support import run_browser_script
from PIL import Image
from scipy.stats import chisquare

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.demo import DEMO_CONFIG_PATH
from edgesplit.demo.run import DemoStack
from edgesplit.status.charts import PALETTE

TOKEN = "status-page-admin-token-0123456789abcdef"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}


def demo_config(path: Path) -> None:
    document = json.loads(Path(DEMO_CONFIG_PATH).read_text())
    for experiment in document["experiments"]:
        if experiment["key"] == "checkout-button":
            experiment["status"] = "paused"
            experiment["pause"] = {
                "by": "ana@example.com",
                "at": "2026-11-24T01:00:00Z",
                "reason": "legal review",
            }
    document["experiments"].append(
        {
            "key": "promo-banner",
            "variants": [{"key": "off"}, {"key": "on"}],
            "bandit": {"update_interval_seconds": 60},
            "targeting": {"paths": ["/pricing"]},
        }
    )
    path.write_text(json.dumps(document))


def gauges(metrics: str, name: str) -> dict[tuple[str, ...], float]:
    found = {}
    for line in metrics.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1 :].rsplit("} ", 1)
            found[tuple(sorted(part.split("=", 1)[1].strip('"') for part in labels.split(",")))] = float(
                value
            )
    return found


def bar_lengths(png: str, colours: list[str]) -> list[int]:
    """Pixels of each bar colour in a chart screenshot: bars share a height, so this is length."""
    raw = Image.open(png).convert("RGB").tobytes()
    targets = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours]
    counts = [0] * len(targets)
    for offset in range(0, len(raw), 3):
        pixel = raw[offset : offset + 3]
        for index, target in enumerate(targets):
            if sum(abs(a - b) for a, b in zip(pixel, target, strict=True)) <= 12:
                counts[index] += 1
    return counts


async def test_status_page_renders_the_numbers_the_metrics_report(tmp_path: Path) -> None:
    config_path = tmp_path / "config.json"
    demo_config(config_path)
    config = load_config(str(config_path))
    stack = DemoStack(
        port=0,
        origin_port=0,
        vendor_port=0,
        config_path=str(config_path),
        admin_token=TOKEN,
        guardrail_interval=3600,
    )
    await stack.start()
    assert stack.service is not None
    given: Counter[tuple[str, str]] = Counter()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            for n in range(400):
                visitor = f"status-{n:05d}-visitor"
                path = "/" if n % 3 else "/pricing"
                async with client.get(
                    stack.proxy_url + path, headers={**BROWSER, "Cookie": f"edgesplit_id={visitor}"}
                ) as resp:
                    assert resp.status == 200
                    decision = [
                        c for c in resp.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")
                    ]
                for key, a in assign(config, visitor, {"path": path}).items():
                    if a.in_experiment and a.variant is not None:
                        given[(key, a.variant)] += 1
                if n % 10 == 0 and path == "/pricing":  # some visitors convert
                    token = decision[0].split(";")[0].split("=", 1)[1]
                    async with client.post(
                        stack.proxy_url + "/__edgesplit/track", json={"event": "signup", "token": token}
                    ) as resp:
                        assert resp.status == 202
                if n == 300:
                    stack.vendor.mode = "down"  # from here on, events wait in the queue
        await stack.service.background.drain()
        await stack.service.guardrails.tick()  # the bandit moves once: history and weights
        async with aiohttp.ClientSession() as client:
            async with client.get(
                stack.proxy_url + "/__edgesplit/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as resp:
                metrics = await resp.text()
            result = await run_browser_script("status_page.mjs", stack.proxy_url, TOKEN, str(tmp_path))
    finally:
        await stack.stop()

    assert (result["signInStatus"], result["wrongTokenStatus"], result["statusCode"]) == (401, 401, 200)
    assert result["external"] == [] and result["report"]["scripts"] == 0
    report = result["report"]
    assert report["configVersion"] == "demo-1"
    exposures = gauges(metrics, "edgesplit_variant_exposures")
    conversions = gauges(metrics, "edgesplit_variant_conversions")
    for key, experiment in report["experiments"].items():
        for variant, numbers in experiment["variants"].items():
            labels = tuple(sorted((key, variant)))
            assert numbers["exposures"] == exposures.get(labels, 0) == given[(key, variant)], (key, variant)
            assert numbers["conversions"] == conversions.get(labels, 0)
            assert numbers["exposuresText"].replace(",", "") == str(given[(key, variant)])
        if key != "promo-banner" and sum(given[(key, v)] for v in experiment["variants"]):
            observed = [given[(key, v)] for v in experiment["variants"]]
            weights = [experiment["variants"][v]["weight"] for v in experiment["variants"]]
            expected = [sum(observed) * w / sum(weights) for w in weights]
            assert experiment["srm"] == pytest.approx(chisquare(observed, expected).pvalue, rel=1e-6)
    assert sum(given[("pricing-layout", v)] for v in ("control", "cards", "table")) > 0
    assert report["experiments"]["pricing-layout"]["variants"]["control"]["conversions"] > 0
    queue_depth = sum(gauges(metrics, "edgesplit_queue_depth").values())
    assert report["queueDepth"] == queue_depth > 0
    assert report["experiments"]["checkout-button"]["status"] == "paused"
    assert any("weights" in item for item in report["experiments"]["promo-banner"]["history"])
    assert all(e["charts"] >= 3 for e in report["experiments"].values())

    # The screenshot shows a page, and the bars are drawn to the numbers in it.
    page = Image.open(tmp_path / "status.png")
    assert page.width == 1200 and page.height > 900 and len(page.convert("RGB").getcolors(1 << 20) or []) > 50
    hero = report["experiments"]["hero-headline"]["variants"]
    lengths = bar_lengths(result["bars"]["hero-headline"], list(PALETTE[:2]))
    longest = max(hero["control"]["exposures"], hero["bold"]["exposures"])
    assert lengths[0] / max(lengths) == pytest.approx(hero["control"]["exposures"] / longest, abs=0.03)
    assert lengths[1] / max(lengths) == pytest.approx(hero["bold"]["exposures"] / longest, abs=0.03)
