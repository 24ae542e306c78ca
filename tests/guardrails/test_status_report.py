"""The status report, page and admin sign-in: numbers, SRM, history, escaping, access."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from edgesplit.core import parse_config
from edgesplit.core.guardrail_rules import Totals
from edgesplit.guardrails.counts import HISTORY_KEEP, CountsStore
from edgesplit.status import StatusData, build_report, merge_queue_stats, read_counts
from edgesplit.status.access import ADMIN_COOKIE, SESSION_SECONDS, authorized, session_value, token_from_form
from edgesplit.status.page import render_login_page, render_status_page
from memory_sql import MemorySql

NOW = 1_795_000_000.0
TOKEN = "admin-token-for-tests"


def config(**extra: Any) -> Any:
    return parse_config(
        {
            "schema_version": 1,
            "version": "v7",
            "experiments": [
                {
                    "key": "hero",
                    "variants": [{"key": "control", "weight": 0.5}, {"key": "bold", "weight": 0.5}],
                    **extra,
                },
                {"key": "arm", "variants": [{"key": "a"}, {"key": "b"}], "bandit": {}},
            ],
        }
    )


def test_report_numbers_srm_and_series_come_from_the_counts() -> None:
    counts = CountsStore(MemorySql())
    counts.add(
        [
            ("hero", "control", NOW - 7200, {"exposures": 600, "conversions": 30, "requests": 700}),
            ("hero", "bold", NOW - 7200, {"exposures": 400, "conversions": 10, "requests": 450, "errors": 3}),
            ("hero", "bold", NOW, {"exposures": 100}),
            ("hero", "bold", NOW - 60 * 3600, {"exposures": 5}),  # older than the 48-hour chart
        ]
    )
    report = build_report(config(), read_counts(counts, ["hero", "arm"], NOW), NOW)
    hero = report["experiments"][0]
    control, bold = hero["variants"]
    assert (control["exposures"], control["conversions"], control["requests"]) == (600, 30, 700)
    assert (bold["exposures"], bold["errors"]) == (505, 3) and control["conversion_rate"] == 0.05
    assert hero["srm_p_value"] == pytest.approx(chisquare([600, 505]).pvalue, rel=1e-9)
    assert hero["sample_ratio_mismatch"] is False  # p≈0.004 is above the 0.001 default threshold
    series = hero["series"]["exposures"]
    assert series["control"][-3] == 600 and series["bold"][-3] == 400 and series["bold"][-1] == 100
    assert sum(series["bold"]) == 500 and len(series["bold"]) == 48
    arm = report["experiments"][1]
    assert arm["variants"][0]["exposures"] == 0 and arm["bandit"]
    assert arm["srm_p_value"] is None and not arm["sample_ratio_mismatch"]  # a bandit's split moves by design
    assert report["config_version"] == "v7" and report["queue"] is None


def test_guardrail_state_pause_and_history() -> None:
    counts = CountsStore(MemorySql())
    pause = {"by": "edgesplit guardrail", "at": "2026-11-24T00:00:00.000Z", "reason": "errors harm in 'bold'"}
    paused = config(status="paused", pause=pause, guardrails={})
    counts.save_state("hero", {"errors:bold": 0.001, "srm_p": 0.5})
    counts.record("hero", NOW - 10, "weights", {"weights": [0.6, 0.4]})
    counts.record("hero", NOW, "paused", {"reason": "errors harm in 'bold'", "srm_p": 0.5})
    hero = build_report(paused, read_counts(counts, ["hero"], NOW), NOW)["experiments"][0]
    assert hero["guardrail"]["state"] == "paused" and hero["guardrail"]["pause"]["reason"].startswith(
        "errors"
    )
    assert hero["guardrail"]["p_values"] == {"errors:bold": 0.001}
    assert [item["kind"] for item in hero["history"]] == ["paused", "weights"]  # newest first
    assert hero["history"][0]["at_iso"].endswith("Z")


def test_history_is_bounded_per_experiment() -> None:
    counts = CountsStore(MemorySql())
    for n in range(HISTORY_KEEP + 30):
        counts.record("hero", NOW + n, "weights", {"weights": [0.5, 0.5], "n": n})
    counts.record("other", NOW, "paused", {"reason": "x"})
    kept = counts.history("hero", limit=10_000)
    assert len(kept) == HISTORY_KEEP and kept[0]["detail"]["n"] == HISTORY_KEEP + 29
    assert len(counts.history("other")) == 1


def test_status_data_survives_the_rpc_boundary_as_plain_json() -> None:
    data = StatusData(
        totals={"hero": {"control": Totals(5, 1, 6, 0)}},
        series={"hero": [{"bucket": 0, "variant": "control", "exposures": 5, "conversions": 1}]},
        state={"hero": {"srm_p": 1.0}},
        history={"hero": []},
        queue={"default": {"depth": 2, "oldest_age_seconds": 3.0}},
    )
    assert StatusData.from_json(data.to_json()) == data


def test_queue_stats_merge_sums_depth_and_keeps_the_oldest() -> None:
    merged = merge_queue_stats(
        [
            {
                "v": {
                    "depth": 2,
                    "oldest_age_seconds": 5.0,
                    "dead_letters": 1,
                    "delivered": 10,
                    "next_attempt_at": 9.0,
                }
            },
            {"v": {"depth": 3, "oldest_age_seconds": 9.5, "dead_letters": 0, "delivered": 1}},
            {"w": {"depth": 0, "oldest_age_seconds": 0.0, "dead_letters": 0}},
        ]
    )
    assert merged["v"]["depth"] == 5 and merged["v"]["oldest_age_seconds"] == 9.5
    assert merged["v"]["delivered"] == 11 and "next_attempt_at" not in merged["v"]
    report = build_report(config(), StatusData(queue=merged), NOW)
    assert report["queue"]["depth"] == 5 and report["queue"]["dead_letters"] == 1


class Cells(HTMLParser):
    """Collects ``data-metric`` values, the way a person's tool would read the page."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if "data-metric" in values:
            self.metrics.append((values["data-metric"] or "", values.get("data-value") or ""))
        for name in ("src", "href"):
            if values.get(name):
                self.external.append(values[name] or "")


def test_page_carries_the_numbers_charts_and_no_external_assets() -> None:
    counts = CountsStore(MemorySql())
    counts.add([("hero", "control", NOW, {"exposures": 1234}), ("hero", "bold", NOW, {"exposures": 1200})])
    html = render_status_page(build_report(config(), read_counts(counts, ["hero", "arm"], NOW), NOW))
    cells = Cells()
    cells.feed(html)
    assert ("exposures", "1234") in cells.metrics and ("exposures", "1200") in cells.metrics
    assert "1,234" in html and ("config_version", "") in cells.metrics or "v7" in html
    assert {"svg", "rect", "polyline", "table"} <= cells.tags
    assert cells.external == [] and "script" not in cells.tags


def test_page_escapes_what_people_wrote() -> None:
    hostile = "<script>alert(1)</script>"
    report = build_report(
        config(status="paused", pause={"by": hostile, "at": hostile, "reason": hostile}), StatusData(), NOW
    )
    html = render_status_page(report)
    assert hostile not in html and "&lt;script&gt;" in html
    assert hostile not in render_login_page("/x", hostile)


def test_admin_session_cookie_proves_the_token_and_expires() -> None:
    value = session_value(TOKEN, NOW)
    assert authorized(None, {ADMIN_COOKIE: value}, TOKEN, NOW + 60)
    assert not authorized(None, {ADMIN_COOKIE: value}, TOKEN, NOW + SESSION_SECONDS + 1)
    assert not authorized(None, {ADMIN_COOKIE: value}, "another-token-entirely", NOW)
    assert TOKEN not in value
    assert authorized(f"Bearer {TOKEN}", {}, TOKEN, NOW) and not authorized(
        f"Bearer {TOKEN}x", {}, TOKEN, NOW
    )
    assert not authorized(f"Bearer {TOKEN}", {}, None, NOW)  # no token configured: nobody
    far = session_value(TOKEN, NOW + 10 * SESSION_SECONDS)  # minted "in the future" cannot be used now
    assert not authorized(None, {ADMIN_COOKIE: far}, TOKEN, NOW)


@given(st.text(max_size=200), st.text(max_size=200))
def test_no_forged_cookie_or_header_opens_the_admin_pages(cookie: str, header: str) -> None:
    assert not authorized(header, {ADMIN_COOKIE: cookie}, TOKEN, NOW)


@given(st.binary(max_size=300))
def test_sign_in_form_parsing_never_raises(body: bytes) -> None:
    token = token_from_form(body)
    assert token is None or isinstance(token, str)


def test_sign_in_form_reads_one_token() -> None:
    assert token_from_form(b"token=abc%2Fdef") == "abc/def"
    assert token_from_form(b"token=a&token=b") is None and token_from_form(b"other=1") is None
    assert re.fullmatch(r"\d+\.[0-9a-f]{64}", session_value(TOKEN, NOW))
