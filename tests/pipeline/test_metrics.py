from __future__ import annotations

from edgesplit.ports.metrics import Metrics


def test_render_prometheus_text() -> None:
    metrics = Metrics()
    metrics.inc("edgesplit_requests_total", outcome="proxied")
    metrics.inc("edgesplit_requests_total", 2, outcome="cache_hit")
    metrics.observe_latency(0.003)
    metrics.observe_latency(20.0)
    text = metrics.render()
    assert "# TYPE edgesplit_requests_total counter" in text
    assert 'edgesplit_requests_total{outcome="cache_hit"} 2' in text
    assert 'edgesplit_request_duration_seconds_bucket{le="0.0025"} 0' in text
    assert 'edgesplit_request_duration_seconds_bucket{le="0.005"} 1' in text
    assert 'edgesplit_request_duration_seconds_bucket{le="+Inf"} 2' in text
    assert "edgesplit_request_duration_seconds_count 2" in text
    assert metrics.value("edgesplit_requests_total", outcome="cache_hit") == 2
