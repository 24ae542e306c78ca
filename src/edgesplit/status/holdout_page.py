"""The status page's holdout section: the held-out visitors against everyone else."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["render_holdout"]


def _rate(arm: dict[str, Any]) -> str:
    rate = arm["conversion_rate"]
    return "–" if rate is None else f"{rate:.2%}"


def _row(row: dict[str, Any]) -> str:
    held, rest, comparison = row["holdout"], row["rest"], row["rest_vs_holdout"]
    lift, interval = comparison["relative_lift"], comparison["lift_interval"]
    bounds = "–" if interval is None else f"[{interval[0]:+.2%}, {interval[1]:+.2%}]"
    return (
        f'<tr data-holdout-experiment="{escape(row["experiment"])}"><td>{escape(row["experiment"])}</td>'
        f'<td data-metric="holdout_exposures" data-value="{held["exposures"]}">{held["exposures"]:,}</td>'
        f"<td>{_rate(held)}</td>"
        f'<td data-metric="rest_exposures" data-value="{rest["exposures"]}">{rest["exposures"]:,}</td>'
        f"<td>{_rate(rest)}</td>"
        f'<td data-metric="rest_vs_holdout_lift" data-value="{lift}">{"–" if lift is None else f"{lift:+.2%}"}</td>'
        f"<td>{bounds}</td></tr>"
    )


def render_holdout(report: dict[str, Any]) -> str:
    holdout = report.get("holdout")
    if not holdout:
        return ""
    scope = "every experiment" if holdout["experiments"] is None else ", ".join(holdout["experiments"])
    return (
        f'<section class="holdout" data-holdout-share="{holdout["share"]}"><h2>Holdout</h2>'
        f"<p>{holdout['share']:.1%} of visitors get the control of {escape(scope)}.</p>"
        "<table><thead><tr><th>experiment</th><th>holdout exposures</th><th>holdout rate</th>"
        "<th>rest exposures</th><th>rest rate</th><th>rest vs holdout</th>"
        "<th>95% interval (fixed horizon)</th></tr></thead><tbody>"
        + "".join(_row(row) for row in holdout["by_experiment"])
        + "</tbody></table></section>"
    )
