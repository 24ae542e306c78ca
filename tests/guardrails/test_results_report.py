"""The results in the status report, on the page and in the config: wired to the counts,
labelled, validated."""

from __future__ import annotations

from typing import Any

import pytest

from edgesplit.core import ConfigError, parse_config
from edgesplit.core.guardrail_rules import Totals
from edgesplit.core.results import ResultsSettings, compare_arms
from edgesplit.status import StatusData, build_report
from edgesplit.status.page import render_status_page

NOW = 1_795_000_000.0


def config(**extra: Any) -> Any:
    return parse_config(
        {
            "schema_version": 1,
            "version": "v1",
            "experiments": [
                {
                    "key": "hero",
                    "variants": [{"key": "control"}, {"key": "bold"}, {"key": "calm"}],
                    **extra,
                }
            ],
        }
    )


def report(cfg: Any) -> dict[str, Any]:
    data = StatusData(
        totals={
            "hero": {
                "control": Totals(exposures=5000, conversions=400),
                "bold": Totals(exposures=5100, conversions=480),
            }
        }
    )
    return build_report(cfg, data, NOW)


def test_report_compares_each_variant_with_the_control_using_the_experiment_settings() -> None:
    cfg = config(results={"minimum_effect": 0.1, "power": 0.9, "alpha": 0.01}, guardrails={"tau": 0.02})
    results = report(cfg)["experiments"][0]["results"]
    assert results["control"] == "control"
    assert results["confidence"] == pytest.approx(0.99)
    assert [row["variant"] for row in results["variants"]] == ["bold", "calm"]
    bold = results["variants"][0]
    expected = compare_arms((400, 5000), (480, 5100), ResultsSettings(0.1, 0.9, 0.01), 0.02**2)
    assert {k: v for k, v in bold.items() if k != "variant"} == expected
    calm = results["variants"][1]  # no exposures yet: nothing to say but "not yet"
    assert calm["relative_lift"] is None and calm["always_valid_interval"] is None
    assert calm["sample_still_needed"] == calm["sample_size_per_arm"]


def test_defaults_apply_without_a_results_section() -> None:
    results = report(config())["experiments"][0]["results"]
    assert (results["minimum_effect"], results["power"], results["confidence"]) == (0.05, 0.8, 0.95)
    assert results["tau"] == 0.01


def test_page_labels_which_interval_may_be_checked_continuously() -> None:
    html = render_status_page(report(config()))
    assert "fixed horizon: read once" in html
    assert "always-valid interval on the difference (may be checked any time)" in html
    bold = report(config())["experiments"][0]["results"]["variants"][0]
    assert (
        f'data-metric="probability_to_beat_control" data-value="{bold["probability_to_beat_control"]}"'
        in html
    )
    assert f"{bold['relative_lift']:+.2%}" in html


@pytest.mark.parametrize(
    ("section", "path", "reason"),
    [
        ({"power": 0.3}, "experiments[0].results.power", "0.5"),
        ({"minimum_effect": "big"}, "experiments[0].results.minimum_effect", "number"),
        ({"alpha": 0}, "experiments[0].results.alpha", "1e-06"),
        ({"beta": 0.2}, "experiments[0].results.beta", ""),
        ([], "experiments[0].results", "object"),
    ],
)
def test_bad_results_sections_are_refused_with_their_path(section: Any, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(results=section)
    problems = [(p.path, p.message) for p in caught.value.problems]
    assert any(p == path and reason in m for p, m in problems), problems


def test_the_published_schema_agrees_on_the_results_section() -> None:
    import json

    jsonschema = pytest.importorskip("jsonschema")
    from edgesplit.schema import schema_text

    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))

    def document(section: Any) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "version": "v1",
            "experiments": [{"key": "hero", "variants": [{"key": "a"}, {"key": "b"}], "results": section}],
        }

    good = {"minimum_effect": 0.02, "power": 0.9, "alpha": 0.1}
    assert validator.is_valid(document(good))
    parse_config(document(good))
    for bad in ({"power": 0.3}, {"alpha": 0.9}, {"extra": 1}, {"minimum_effect": 0}):
        assert not validator.is_valid(document(bad))
        with pytest.raises(ConfigError):
            parse_config(document(bad))
