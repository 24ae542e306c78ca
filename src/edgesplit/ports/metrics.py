"""Counters and a latency histogram, rendered in the Prometheus text format (0.0.4)."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

__all__ = ["Metrics", "LATENCY_BUCKETS"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_HELP = {
    "edgesplit_requests_total": "Requests handled, by outcome.",
    "edgesplit_decisions_total": "Requests that carried a signed decision to the origin.",
    "edgesplit_cache_total": "Per-variant cache lookups and stores, by result.",
    "edgesplit_origin_errors_total": "Origin failures, by kind.",
    "edgesplit_exposures_total": "Exposure events handed to the outbox.",
    "edgesplit_bots_total": "Requests served the control as bots or prefetches, by signal.",
    "edgesplit_internal_errors_total": "edgesplit failures that were served open, by stage.",
    "edgesplit_config_refused_total": "Configurations refused; the running one stayed.",
    "edgesplit_tokens_rejected_total": "Decision tokens rejected, by reason.",
    "edgesplit_request_duration_seconds": "Time from request to response headers.",
    "edgesplit_events_delivered_total": "Events the vendor accepted, by vendor and path (direct or queue).",
    "edgesplit_events_queued_total": "Events sent to the durable queue instead of the vendor, by reason.",
    "edgesplit_events_dead_lettered_total": "Events a vendor refused for good (kept as dead letters).",
    "edgesplit_exposures_deduplicated_total": "Exposures dropped as repeats within the dedup window.",
    "edgesplit_conversions_total": "Conversions accepted at the track endpoint.",
    "edgesplit_events_dropped_total": "Events dropped because the durable queue itself failed, by vendor.",
    "edgesplit_track_rejected_total": "Track requests refused, by reason (a fixed set, incl. caps).",
    "edgesplit_track_duplicates_total": "Conversions and drift reports received again, counted once.",
    "edgesplit_admin_denied_total": "Admin requests with a wrong or missing token (sign-in, status, metrics).",
    "edgesplit_admin_locked_out_total": "Admin requests refused because the address is locked out.",
    "edgesplit_queue_depth": "Events pending in the queue, by vendor and shard.",
    "edgesplit_queue_oldest_age_seconds": "Age of the oldest pending event, by vendor and shard.",
    "edgesplit_queue_events_total": "Queue counters by vendor, shard and kind (delivered, retried, dropped, dead).",
}


def _escape(value: str) -> str:
    """Label value escaping of the text exposition format: backslash, double quote, newline."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self.gauges: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._bucket_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._latency_count = 0

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        # Most counters have one label or none: sorting is only needed beyond that.
        key = tuple(labels.items()) if len(labels) < 2 else tuple(sorted(labels.items()))
        self.counters[name][key] += value

    def value(self, name: str, **labels: str) -> float:
        return self.counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        self.gauges[name][tuple(sorted(labels.items()))] = value

    def observe_latency(self, seconds: float) -> None:
        self._bucket_counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self._latency_sum += seconds
        self._latency_count += 1

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self.counters):
            lines.append(f"# HELP {name} {_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for labels, value in sorted(self.counters[name].items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        for name in sorted(self.gauges):
            lines.append(f"# HELP {name} {_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} gauge")
            for labels, value in sorted(self.gauges[name].items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        name = "edgesplit_request_duration_seconds"
        lines.append(f"# HELP {name} {_HELP[name]}")
        lines.append(f"# TYPE {name} histogram")
        cumulative = 0
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self._bucket_counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            lines.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"{name}_sum {self._latency_sum:.6f}")
        lines.append(f"{name}_count {self._latency_count}")
        return "\n".join(lines) + "\n"
