"""Issue 13, finding 3: no token is needed to reach /track, so nothing it is sent may become a
metrics label; and label values are escaped as the exposition format requires."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from edgesplit.ports.metrics import Metrics


def parse(text: str) -> dict[str, list]:
    """Every family and sample, read by the Prometheus client's own parser (raises on bad text)."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


@given(st.text(max_size=40))
def test_any_label_value_round_trips_through_the_prometheus_parser(value: str) -> None:
    metrics = Metrics()
    metrics.inc("edgesplit_test_total", reason=value)
    families = parse(metrics.render())
    [sample] = [s for s in families["edgesplit_test"] if s.name == "edgesplit_test_total"]
    assert sample.labels == {"reason": value} and sample.value == 1
