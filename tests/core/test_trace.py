"""The decision trace's content and its size bound."""

from __future__ import annotations

import json

from edgesplit.core import assign, parse_config
from edgesplit.core.trace import MAX_TRACE_BYTES, explain, trace_header_value


def config(count: int = 2, **extra: object):  # noqa: ANN201
    return parse_config(
        {
            "schema_version": 1,
            "version": "t1",
            "experiments": [
                {
                    "key": "hero",
                    "variants": [{"key": "a"}, {"key": "b"}],
                    "namespace": {"id": "ns", "range": [0, 0.5]},
                    "targeting": {"when": {"country": "DE"}},
                },
                *(
                    {"key": f"exp-{i:04d}", "variants": [{"key": "a"}, {"key": "b"}], "coverage": 0.5}
                    for i in range(count - 1)
                ),
            ],
            **extra,
        }
    )


def test_trace_names_the_rule_the_namespace_the_bucket_and_the_holdout() -> None:
    cfg = config(holdout={"share": 0.5, "seed": "s", "experiments": ["hero"]})
    visitor = "trace-core-visitor"
    for country in ("DE", "FR"):
        attributes = {"path": "/", "country": country}
        doc = explain(cfg, visitor, attributes, assign(cfg, visitor, attributes))
        hero = doc["experiments"]["hero"]
        assert hero["targeting"] == {"path": True, "when": country == "DE", "rule": {"country": "DE"}}
        assert hero["namespace"]["range"] == [0, 0.5]
        assert hero["namespace"]["value"] == round(cfg.experiment("hero").namespace_hasher(visitor), 6)
        assert hero["holdout"] == cfg.holdout.contains(visitor)
        assert hero["reason"] == assign(cfg, visitor, attributes)["hero"].reason
        assert "holdout" not in doc["experiments"]["exp-0000"]
    assert doc["config_version"] == "t1" and doc["visitor"] == visitor


def test_a_trace_is_ascii_json_within_the_header_bound_however_many_experiments() -> None:
    for count in (1, 60, 1000):
        cfg = config(count)
        doc = explain(cfg, "v-" + "é" * 10, {"path": "/ü"}, assign(cfg, "v-" + "é" * 10, {"path": "/ü"}))
        value = trace_header_value(doc, "MISS")
        assert value.isascii() and len(value) <= MAX_TRACE_BYTES and "\n" not in value
        decoded = json.loads(value)
        assert decoded["cache"] == "MISS"
        if count == 1000:
            assert decoded["truncated"] is True and decoded["detail"] == "short"
