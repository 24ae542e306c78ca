"""The status page: one self-contained HTML document (inline CSS and SVG, no script, no
external assets), rendered from ``build_report``'s dict. Numbers are also in ``data-`` attributes
so tools can read them without parsing the formatting."""

from __future__ import annotations

from html import escape
from typing import Any

from .charts import bar_chart, colour, format_number, line_chart, split_bar
from .holdout_page import render_holdout
from .results_page import render_results

__all__ = ["render_status_page", "render_login_page", "STATUS_CSP"]

STATUS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
)

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:18px}
header p{margin:4px 0 0;color:#c9ced8}main{padding:16px 24px;max-width:1100px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:14px 18px;margin:0 0 16px}
h2{margin:0 0 8px;font-size:16px}table{border-collapse:collapse;margin:8px 0}
th,td{padding:4px 10px;border-bottom:1px solid #e6e8ec;text-align:right}th:first-child,td:first-child{text-align:left}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;margin-left:8px;color:#fff}
.running,.watching,.off{background:#2e7d32}.paused,.stopped{background:#b00020}.mismatch{background:#e65100}
.off{background:#78828f}.charts{display:flex;flex-wrap:wrap;gap:18px}.charts figure{margin:0}
figcaption{font-size:12px;color:#5b6472}svg text{font-size:11px;fill:#1d2330}.split text{fill:#fff}
.kv{display:flex;gap:24px;flex-wrap:wrap}.kv div b{display:block;font-size:18px}
ul.history{margin:4px 0;padding-left:18px;font-size:13px}code{font-size:12px}
"""


def _metric(tag: str, metric: str, value: Any, text: str) -> str:
    """A cell or figure carrying its raw number, for tools, beside the formatted one."""
    return f'<{tag} data-metric="{metric}" data-value="{value}">{text}</{tag}>'


def _badge(text: str) -> str:
    css = "mismatch" if text == "sample ratio mismatch" else text
    return f'<span class="badge {escape(css)}">{escape(text)}</span>'


def _variant_rows(experiment: dict[str, Any]) -> str:
    rows = []
    for variant in experiment["variants"]:
        rate, weight = variant["conversion_rate"], variant["weight"]
        counts = "".join(
            _metric("td", name, variant[name], format_number(variant[name]))
            for name in ("exposures", "conversions")
        )
        health = "".join(
            _metric("td", name, variant[name], format_number(variant[name]))
            for name in ("requests", "errors")
        )
        rows.append(
            f'<tr data-variant="{escape(variant["key"])}"><td>{escape(variant["key"])}</td>'
            f"{_metric('td', 'weight', weight, f'{weight:.1%}')}{counts}"
            f"<td>{'–' if rate is None else f'{rate:.2%}'}</td>{health}</tr>"
        )
    return (
        "<table><thead><tr><th>variant</th><th>weight</th><th>exposures</th><th>conversions</th>"
        "<th>conversion rate</th><th>requests</th><th>5xx</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _history(experiment: dict[str, Any]) -> str:
    items = experiment["history"]
    if not items:
        return "<p>No guardrail or bandit actions yet.</p>"
    lines = []
    for item in items:
        detail = item["detail"]
        if item["kind"] == "weights":
            keys = [v["key"] for v in experiment["variants"]]
            text = ", ".join(f"{k} {w:.1%}" for k, w in zip(keys, detail.get("weights", []), strict=False))
        else:
            text = str(detail.get("reason") or detail.get("by") or "")
        lines.append(f"<li><code>{escape(item['at_iso'])}</code> {escape(item['kind'])}: {escape(text)}</li>")
    return '<ul class="history">' + "".join(lines) + "</ul>"


def _weights_history(experiment: dict[str, Any]) -> str:
    moves = [item for item in reversed(experiment["history"]) if item["kind"] == "weights"]
    if len(moves) < 2:
        return ""
    keys = [v["key"] for v in experiment["variants"]]
    series = [(key, [float(m["detail"]["weights"][i]) for m in moves]) for i, key in enumerate(keys)]
    chart = line_chart(series, title="bandit weights over time", x_labels=(moves[0]["at_iso"][11:16], "now"))
    return f"<figure>{chart}<figcaption>Bandit weights, last {len(moves)} moves</figcaption></figure>"


def _experiment(experiment: dict[str, Any]) -> str:
    key = experiment["key"]
    guardrail = experiment["guardrail"]
    variants = experiment["variants"]
    exposures = bar_chart(
        [(v["key"], float(v["exposures"])) for v in variants], title=f"{key}: exposures per variant"
    )
    weights = split_bar([(v["key"], float(v["weight"])) for v in variants], title=f"{key}: traffic split")
    hourly = experiment["series"]["exposures"]
    trend = line_chart(
        [(v["key"], [float(x) for x in hourly.get(v["key"], [])]) for v in variants],
        title=f"{key}: exposures per hour",
        x_labels=("48 h ago", "now"),
    )
    legend = " ".join(
        f'<span style="color:{colour(i)}">&#9632;</span> {escape(v["key"])}' for i, v in enumerate(variants)
    )
    p_values = guardrail["p_values"]
    tests = (
        "<table><thead><tr><th>guardrail test</th><th>always-valid p</th></tr></thead><tbody>"
        + "".join(
            f"<tr><td>{escape(name)}</td>{_metric('td', 'p_value', value, f'{value:.4g}')}</tr>"
            for name, value in p_values.items()
        )
        + "</tbody></table>"
        if p_values
        else ""
    )
    pause = guardrail["pause"]
    pause_text = (
        f"<p><b>Paused</b> by {escape(str(pause.get('by', '?')))} at <code>{escape(str(pause.get('at', '?')))}</code>: "
        f"{escape(str(pause.get('reason', '')))}</p>"
        if pause
        else ""
    )
    srm = experiment["srm_p_value"]
    bandit = ' <span class="badge off">bandit</span>' if experiment["bandit"] else ""
    weights_label = "Bandit" if experiment["bandit"] else "Configured"
    srm_text = "n/a (bandit)" if srm is None else f"{srm:.4g}"
    return (
        f'<section class="experiment" data-experiment="{escape(key)}">'
        f"<h2>{escape(key)}{_badge(experiment['status'])}{bandit}</h2>"
        f'<div class="kv"><div>SRM p-value{_metric("b", "srm_p_value", srm, srm_text)}</div>'
        f"<div>guardrails<b>{_badge(guardrail['state'])}</b></div>"
        f"<div>coverage<b>{experiment['coverage']:.0%}</b></div></div>"
        f"{pause_text}{_variant_rows(experiment)}{render_results(experiment['results'])}"
        f'<div class="charts"><figure>{exposures}<figcaption>Exposures per variant</figcaption></figure>'
        f"<figure>{weights}<figcaption>{weights_label} weights</figcaption></figure>"
        f"<figure>{trend}<figcaption>Exposures per hour: {legend}</figcaption></figure>"
        f"{_weights_history(experiment)}</div>"
        f"{tests}<h3>History</h3>{_history(experiment)}</section>"
    )


def _queue(report: dict[str, Any]) -> str:
    queue = report["queue"]
    if queue is None:
        return "<section><h2>Event queue</h2><p>No vendor configured: events are not queued.</p></section>"
    vendors = "".join(
        f"<tr><td>{escape(name)}</td><td>{format_number(v.get('depth', 0))}</td>"
        f"<td>{float(v.get('oldest_age_seconds', 0)):.1f} s</td>"
        f"<td>{format_number(v.get('delivered', 0))}</td><td>{format_number(v.get('dead_letters', 0))}</td></tr>"
        for name, v in sorted(queue["vendors"].items())
    )
    vendors = vendors or '<tr><td colspan="5">No events waiting: vendors are taking them directly.</td></tr>'
    return (
        '<section class="queue"><h2>Event queue</h2><div class="kv">'
        + "".join(
            f"<div>{label}{_metric('b', metric, queue[key], text)}</div>"
            for label, metric, key, text in (
                ("pending events", "queue_depth", "depth", format_number(queue["depth"])),
                (
                    "oldest pending",
                    "queue_oldest",
                    "oldest_age_seconds",
                    f"{queue['oldest_age_seconds']:.1f} s",
                ),
                ("dead letters", "dead_letters", "dead_letters", format_number(queue["dead_letters"])),
            )
        )
        + "</div>"
        "<table><thead><tr><th>vendor</th><th>pending</th><th>oldest</th><th>delivered from queue</th>"
        f"<th>dead letters</th></tr></thead><tbody>{vendors}</tbody></table></section>"
    )


_DEBUG_SWITCH = (
    '<section class="debug"><h2>Decision trace</h2><p>Pages this browser loads in the next hour carry '
    "an <code>x-edgesplit-trace</code> header: each experiment's reason, bucket, config version and "
    'cache outcome.</p><form method="post" action="debug"><button name="trace" value="on">Trace this '
    'browser</button> <button name="trace" value="off">Stop tracing</button></form></section>'
)


def _proxies(report: dict[str, Any]) -> str:
    """Several proxies sharing state: each one's queue depth and whether its counts are in."""
    proxies = report.get("proxies")
    if not proxies:
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td>"
        + (
            '<td colspan="3">not reporting (down or cut off)</td>'
            if p is None
            else f"<td>{format_number(p.get('depth', 0))}</td>"
            f"<td>{'waiting to flush' if p.get('behind') else 'in'}</td>"
            f"<td>{escape(str(p.get('config_version', '')))}</td>"
        )
        + "</tr>"
        for name, p in sorted(proxies.items())
    )
    return (
        '<section class="proxies"><h2>Proxies</h2><table><thead><tr><th>proxy</th><th>pending events</th>'
        f"<th>counts</th><th>config version</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _document(title: str, body: str, refresh: int | None = None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def render_status_page(report: dict[str, Any], refresh_seconds: int = 30) -> str:
    refused = report["config_refused"]
    header = (
        "<header><h1>edgesplit status</h1>"
        f'<p>config version <code data-metric="config_version">{escape(str(report["config_version"]))}</code>'
        f" · {len(report['experiments'])} experiments · generated {escape(report['generated_at'])}"
        f"{f' · {refused} config updates refused' if refused else ''}</p></header>"
    )
    experiments = (
        "".join(_experiment(e) for e in report["experiments"]) or "<section><p>No experiments.</p></section>"
    )
    return _document(
        "edgesplit status",
        f"{header}<main>{_queue(report)}{_proxies(report)}{render_holdout(report)}{experiments}{_DEBUG_SWITCH}</main>",
        refresh_seconds,
    )


def render_login_page(action: str, message: str = "") -> str:
    note = f'<p role="alert">{escape(message)}</p>' if message else ""
    body = (
        "<header><h1>edgesplit status</h1><p>Admin token required</p></header><main><section>"
        f'{note}<form method="post" action="{escape(action)}"><label>Admin token '
        '<input type="password" name="token" autocomplete="current-password" required></label> '
        '<button type="submit">Open status</button></form></section></main>'
    )
    return _document("edgesplit status: sign in", body)
