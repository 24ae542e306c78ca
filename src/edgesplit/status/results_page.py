"""The status page's results table: each variant against the control, labelled so a reader
knows which interval may be checked continuously and which only once."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_results"]


def _cell(metric: str, value: Any, text: str) -> str:
    return f'<td data-metric="{metric}" data-value="{escape(str(value))}">{escape(text)}</td>'


def _interval(bounds: list[float] | None, scale: float, unit: str) -> str:
    if bounds is None:
        return "–"
    return f"[{bounds[0] * scale:+.2f}{unit}, {bounds[1] * scale:+.2f}{unit}]"


def _row(row: dict[str, Any]) -> str:
    lift, needed = row["relative_lift"], row["sample_still_needed"]
    beat = row["probability_to_beat_control"]
    return (
        f'<tr data-result-variant="{escape(row["variant"])}"><td>{escape(row["variant"])}</td>'
        + _cell("relative_lift", lift, "–" if lift is None else f"{lift:+.2%}")
        + _cell("lift_interval", row["lift_interval"], _interval(row["lift_interval"], 100, "%"))
        + _cell(
            "always_valid_interval",
            row["always_valid_interval"],
            _interval(row["always_valid_interval"], 100, " pp"),
        )
        + _cell("probability_to_beat_control", beat, f"{beat:.1%}")
        + _cell("sample_still_needed", needed, "–" if needed is None else f"{needed:,}")
        + "</tr>"
    )


def render_results(results: dict[str, Any]) -> str:
    if not results["variants"]:
        return ""
    confidence = f"{results['confidence']:.0%}"
    return (
        f'<h3>Results against {escape(results["control"])}</h3><table class="results"><thead><tr>'
        "<th>variant</th><th>relative lift</th>"
        f"<th>{confidence} interval (fixed horizon: read once)</th>"
        f"<th>{confidence} always-valid interval on the difference (may be checked any time)</th>"
        "<th>P(beats control)</th>"
        f"<th>visitors per arm still needed for {results['minimum_effect']:+.1%} at "
        f"{results['power']:.0%} power</th></tr></thead><tbody>"
        + "".join(_row(row) for row in results["variants"])
        + "</tbody></table>"
    )
