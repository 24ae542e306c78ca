"""What the status page and ``edgesplit status`` show, built from the config and the counts.

Pure: the shells gather the numbers (SQLite here, Durable Objects at the edge) into a
``StatusData`` and hand in the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core import Config
from ..core.events import utc_iso
from ..core.experiments import Experiment
from ..core.guardrail_rules import GuardrailSettings, Totals, evaluate_guardrails
from .holdout_view import holdout_report
from .results_view import experiment_results

__all__ = ["StatusData", "StatusSource", "build_report", "merge_queue_stats", "read_counts", "SERIES_HOURS"]

SERIES_HOURS = 48
HOUR = 3600


@dataclass
class StatusData:
    """The numbers a shell gathered for the experiments in the current config."""

    totals: dict[str, dict[str, Totals]] = field(default_factory=dict)
    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """experiment -> hourly ``{"bucket", "variant", "exposures", "conversions"}`` rows."""
    state: dict[str, dict[str, float]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queue: dict[str, dict[str, Any]] | None = None
    """vendor -> ``{"depth", "oldest_age_seconds", "dead_letters", ...}``; None: no queue."""
    proxies: dict[str, dict[str, Any] | None] | None = None
    """Several proxies sharing state: proxy -> ``{"depth", "behind", ...}`` (None: not reporting)."""

    def to_json(self) -> dict[str, Any]:
        """Plain dicts and lists, for crossing an RPC boundary (Durable Objects)."""
        return {
            "totals": {
                key: {
                    variant: [t.exposures, t.conversions, t.requests, t.errors] for variant, t in rows.items()
                }
                for key, rows in self.totals.items()
            },
            "series": self.series,
            "state": self.state,
            "history": self.history,
            "queue": self.queue,
            "proxies": self.proxies,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StatusData:
        return cls(
            totals={
                key: {variant: Totals(*(int(n) for n in numbers)) for variant, numbers in rows.items()}
                for key, rows in doc.get("totals", {}).items()
            },
            series={key: list(rows) for key, rows in doc.get("series", {}).items()},
            state={key: dict(values) for key, values in doc.get("state", {}).items()},
            history={key: list(items) for key, items in doc.get("history", {}).items()},
            queue=doc.get("queue"),
            proxies=doc.get("proxies"),
        )


class StatusSource(Protocol):
    """Gathers the numbers behind the status page (counts, guardrail state, queue): the port each
    shell implements (SQLite counts and queue shards; the ``Counters`` and ``QueueShard`` DOs)."""

    async def gather(self, experiments: list[str], now: float) -> StatusData: ...


def read_counts(counts: Any, experiments: Iterable[str], now: float) -> StatusData:
    """Everything the page shows from a ``CountsStore`` (SQLite file or Durable Object)."""
    data = StatusData()
    since = now - SERIES_HOURS * HOUR
    for key in experiments:
        data.totals[key] = counts.totals(key)
        data.series[key] = counts.series(key, since)
        data.state[key] = counts.state(key)
        data.history[key] = counts.history(key)
    return data


def merge_queue_stats(shards: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per-shard ``vendor -> numbers`` into one ``vendor -> numbers`` (sums; oldest is the max)."""
    merged: dict[str, dict[str, Any]] = {}
    for shard in shards:
        for vendor, numbers in shard.items():
            into = merged.setdefault(vendor, {"depth": 0, "oldest_age_seconds": 0.0, "dead_letters": 0})
            for name, value in numbers.items():
                if name == "oldest_age_seconds":
                    into[name] = max(float(into[name]), float(value))
                elif isinstance(value, int) and not isinstance(value, bool) and name != "next_attempt_at":
                    into[name] = int(into.get(name, 0)) + value
    return merged


def _guardrail(experiment: Experiment, verdict: Any, state: Mapping[str, float]) -> dict[str, Any]:
    if experiment.pause:
        condition = "paused"
    elif verdict.srm and experiment.bandit is None:
        condition = "sample ratio mismatch"
    elif experiment.guardrails is not None:
        condition = "watching"
    else:
        condition = "off"
    return {
        "state": condition,
        "configured": experiment.guardrails is not None,
        "p_values": {name: value for name, value in sorted(state.items()) if ":" in name},
        "pause": dict(experiment.pause) if experiment.pause else None,
    }


def _series(rows: list[dict[str, Any]], variants: list[str], now: float) -> dict[str, Any]:
    last = int(now // HOUR) * HOUR
    buckets = [last - HOUR * i for i in range(SERIES_HOURS - 1, -1, -1)]
    index = {bucket: i for i, bucket in enumerate(buckets)}
    exposures = {variant: [0] * SERIES_HOURS for variant in variants}
    for row in rows:
        i = index.get(int(row["bucket"]))
        if i is not None and row["variant"] in exposures:
            exposures[row["variant"]][i] += int(row["exposures"])
    return {"bucket_start": buckets[0], "bucket_seconds": HOUR, "exposures": exposures}


def _experiment(experiment: Experiment, data: StatusData, now: float) -> dict[str, Any]:
    totals = data.totals.get(experiment.key, {})
    state = data.state.get(experiment.key, {})
    weights = [(v.key, v.weight) for v in experiment.variants]
    verdict = evaluate_guardrails(
        weights, totals, experiment.guardrails or GuardrailSettings(metrics=()), state
    )
    variants = []
    for variant in experiment.variants:
        counts = totals.get(variant.key, Totals())
        variants.append(
            {
                "key": variant.key,
                "weight": round(variant.weight, 6),
                "exposures": counts.exposures,
                "conversions": counts.conversions,
                "conversion_rate": counts.conversions / counts.exposures if counts.exposures else None,
                "requests": counts.requests,
                "errors": counts.errors,
            }
        )
    history = data.history.get(experiment.key, [])
    return {
        "key": experiment.key,
        "status": experiment.status,
        "coverage": experiment.coverage,
        "bandit": experiment.bandit is not None,
        "variants": variants,
        # A bandit's split moves by design: its exposures are not expected to follow today's weights.
        "srm_p_value": None if experiment.bandit is not None else verdict.srm_p,
        "sample_ratio_mismatch": experiment.bandit is None and verdict.srm,
        "guardrail": _guardrail(experiment, verdict, state),
        "results": experiment_results(experiment, totals),
        "history": [{**item, "at_iso": utc_iso(item["at"])} for item in history],
        "series": _series(data.series.get(experiment.key, []), [v.key for v in experiment.variants], now),
    }


def build_report(config: Config, data: StatusData, now: float, config_refused: int = 0) -> dict[str, Any]:
    queue = None
    if data.queue is not None:
        queue = {
            "depth": sum(int(v.get("depth", 0)) for v in data.queue.values()),
            "oldest_age_seconds": max(
                (float(v.get("oldest_age_seconds", 0)) for v in data.queue.values()), default=0.0
            ),
            "dead_letters": sum(int(v.get("dead_letters", 0)) for v in data.queue.values()),
            "vendors": data.queue,
        }
    return {
        "generated_at": utc_iso(now),
        "config_version": config.version,
        "config_refused": config_refused,
        "queue": queue,
        "proxies": data.proxies,
        "experiments": [_experiment(experiment, data, now) for experiment in config.experiments],
        "holdout": holdout_report(config, data.totals),
    }
