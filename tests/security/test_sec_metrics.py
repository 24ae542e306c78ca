"""Issue 13, finding 3: no token is needed to reach /track, so nothing it is sent may become a
metrics label; and label values are escaped as the exposition format requires."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from proxy_support import running_proxy

from edgesplit.ports.metrics import Metrics


def parse(text: str) -> dict[str, list]:
    """Every family and sample, read by the Prometheus client's own parser (raises on bad text)."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


async def metrics_text(proxy: Any) -> str:
    async with proxy.client.get(proxy.base + "/__edgesplit/metrics") as resp:
        assert resp.status == 200
        return await resp.text()


async def test_an_unknown_track_field_cannot_break_or_extend_metrics(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        status, _ = await proxy.track('{"event":"x","x\'\\"} 1e99\\nevil":1}')
        assert status == 400
        families = parse(await metrics_text(proxy))
        assert "evil" not in families
        for n in range(300):
            await proxy.track({"event": "x", ("f" * 1000) + str(n): 1})
        families = parse(await metrics_text(proxy))
        rejected = {s.labels["reason"] for s in families["edgesplit_track_rejected"]}
        assert rejected <= {"unknown field", "rate_limited"}  # 2 series, not 300


async def test_token_rejections_use_a_fixed_vocabulary(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        for token in ("garbage\n}", "es1.a.b.c", "x" * 300, ""):
            await proxy.track({"event": "x", "token": token})
        await proxy.track({"event": "x"})
        families = parse(await metrics_text(proxy))
        reasons = {s.labels["reason"] for s in families["edgesplit_tokens_rejected"]}
        assert reasons <= {"malformed", "unsupported_version", "unknown_key", "missing", "other"}


@given(st.text(max_size=40))
def test_any_label_value_round_trips_through_the_prometheus_parser(value: str) -> None:
    metrics = Metrics()
    metrics.inc("edgesplit_test_total", reason=value)
    families = parse(metrics.render())
    [sample] = [s for s in families["edgesplit_test"] if s.name == "edgesplit_test_total"]
    assert sample.labels == {"reason": value} and sample.value == 1
