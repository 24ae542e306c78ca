"""Counts on a real SQLite, compaction, and the updater's pauses and bandit weights."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from edgesplit.core import parse_config, parse_config_text
from edgesplit.core.guardrail_rules import Totals
from edgesplit.guardrails import updater
from edgesplit.guardrails.counts import CountsStore
from edgesplit.guardrails.updater import (
    apply_update,
    compact_if_due,
    plan_updates,
    prepare_update,
    record_update,
)
from memory_sql import MemorySql

HOUR = 3600


def document(**experiment: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "version": "g1",
        "experiments": [
            {"key": "exp", "variants": [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}], **experiment}
        ],
    }


def test_counts_add_up_across_buckets_and_survive_compaction() -> None:
    counts = CountsStore(MemorySql())
    now = 1_764_000_000
    for hour in range(100):
        counts.add(
            [
                (
                    "exp",
                    "a",
                    now - hour * HOUR,
                    {"exposures": 10, "requests": 12, "errors": 1, "latency_ms": 120},
                ),
                ("exp", "b", now - hour * HOUR, {"exposures": 9, "conversions": 2}),
            ]
        )
    before = counts.totals("exp")
    assert before["a"] == Totals(1000, 0, 1200, 100) and before["b"] == Totals(900, 200, 0, 0)
    assert counts.sql.exec("SELECT COUNT(*) AS n FROM variant_counts")[0]["n"] == 200
    assert counts.compact(now, keep_hours=12) > 0
    rows_after = counts.sql.exec("SELECT COUNT(*) AS n FROM variant_counts")[0]["n"]
    assert rows_after <= 2 * 13 + 2 * 6  # 12-13 hourly rows and at most 6 daily rows per variant
    assert counts.totals("exp") == before  # folded, not lost
    assert counts.latency_ms("exp")["a"] == 10.0


def test_updater_pauses_a_harmful_variant_with_a_record() -> None:
    config = parse_config(document(guardrails={"min_sample": 100, "metrics": ["errors"]}))
    counts = CountsStore(MemorySql())
    counts.add(
        [
            ("exp", "a", 0, {"exposures": 1000, "requests": 1000, "errors": 5}),
            ("exp", "b", 0, {"exposures": 1000, "requests": 1000, "errors": 300}),
        ]
    )
    update = plan_updates(config, counts, 1_764_000_000, random.Random(1))
    record = update.pauses["exp"]
    assert record["by"] == "edgesplit guardrail" and record["at"] == "2025-11-24T16:00:00.000Z"
    assert "errors harm in variant 'b'" in record["reason"]
    assert record["numbers"]["totals"]["b"]["errors"] == 300
    new = apply_update(config.source, update)  # type: ignore[arg-type]
    paused = parse_config(new).experiment("exp")
    assert paused is not None and paused.status == "paused" and paused.pause == record


def test_bandit_weights_move_toward_the_winner_once_per_interval() -> None:
    config = parse_config(
        document(bandit={"min_weight": 0.1, "max_weight": 0.9, "update_interval_seconds": 600})
    )
    counts = CountsStore(MemorySql())
    counts.add(
        [
            ("exp", "a", 0, {"exposures": 4000, "conversions": 160}),
            ("exp", "b", 0, {"exposures": 4000, "conversions": 260}),
        ]
    )
    first = plan_updates(config, counts, 10_000, random.Random(1))
    assert first.weights["exp"][1] > 0.85 and first.weights["exp"][0] >= 0.1 - 1e-9
    # a planned move that was never written does not start the interval: only a recorded one
    assert "exp" in plan_updates(config, counts, 10_300, random.Random(1)).weights
    record_update(counts, first, 10_000)
    assert "exp" not in plan_updates(config, counts, 10_300, random.Random(1)).weights  # within the interval
    assert "exp" in plan_updates(config, counts, 10_700, random.Random(1)).weights
    new = parse_config(apply_update(config.source, first))  # type: ignore[arg-type]
    assert [round(v.weight, 3) for v in new.experiments[0].variants] == [
        round(w, 3) for w in first.weights["exp"]
    ]


def test_paused_experiments_are_left_alone() -> None:
    config = parse_config(document(status="paused", guardrails={"min_sample": 1}))
    counts = CountsStore(MemorySql())
    counts.add(
        [("exp", "a", 0, {"requests": 100, "errors": 0}), ("exp", "b", 0, {"requests": 100, "errors": 90})]
    )
    assert not plan_updates(config, counts, 0, random.Random(1))


def harmful_counts() -> CountsStore:
    counts = CountsStore(MemorySql())
    counts.add(
        [
            ("exp", "a", 0, {"exposures": 1000, "requests": 1000, "errors": 5}),
            ("exp", "b", 0, {"exposures": 1000, "requests": 1000, "errors": 300}),
        ]
    )
    return counts


def test_prepare_update_gives_the_validated_text_to_write() -> None:
    text = json.dumps(document(guardrails={"min_sample": 100, "metrics": ["errors"]}))
    prepared = prepare_update(text, harmful_counts(), 1_000.0, random.Random(1))
    assert prepared.refused is None and prepared.text is not None
    written = parse_config_text(prepared.text)
    assert written.experiments[0].status == "paused"
    assert list(prepared.update.pauses) == ["exp"]


def test_prepare_update_refuses_a_result_that_would_not_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither shell may write a document its readers would refuse (the edge used to put it in KV)."""

    def broken_apply(document: dict[str, Any], update: updater.Update) -> dict[str, Any]:
        document = json.loads(json.dumps(document))
        document["experiments"][0]["variants"][0]["weight"] = -1
        return document

    monkeypatch.setattr(updater, "apply_update", broken_apply)
    text = json.dumps(document(guardrails={"min_sample": 100, "metrics": ["errors"]}))
    prepared = prepare_update(text, harmful_counts(), 1_000.0, random.Random(1))
    assert prepared.text is None and prepared.refused is not None
    assert "experiments[0].variants[0].weight: must be >= 0" in str(prepared.refused)
    assert prepared.update.pauses  # planned, but not to be written


def test_counts_are_compacted_on_one_schedule_whatever_the_tick_interval() -> None:
    counts = CountsStore(MemorySql())
    start = 1_764_000_000.0
    for hour in range(60):
        counts.add([("exp", "a", start - hour * HOUR, {"exposures": 1})])
    hourly = "SELECT COUNT(*) AS n FROM variant_counts WHERE span = 3600"
    assert compact_if_due(counts, start)  # never compacted: due now
    after_first = counts.sql.exec(hourly)[0]["n"]
    assert after_first < 60
    counts.add([("exp", "a", start - 50 * HOUR, {"exposures": 1})])
    for tick in range(1, 360):  # every 10 s for an hour: not due again
        assert not compact_if_due(counts, start + 10 * tick)
    assert counts.sql.exec(hourly)[0]["n"] == after_first + 1
    assert compact_if_due(counts, start + 3600)
    # the late old row is folded, and the 48-hour window has moved on by one hour
    assert counts.sql.exec(hourly)[0]["n"] == after_first - 1
    assert counts.totals("exp")["a"].exposures == 61
