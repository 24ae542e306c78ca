"""The pure parts of page experiments: which requests redirect or rewrite, and how the
bootstrap script is written and allowed by the page's Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import DecisionClaims, HmacKey, Keyring, parse_config
from edgesplit.pipeline.bootstrap import allow_inline_script, bootstrap_source, bootstrap_tag
from edgesplit.pipeline.decide import decide
from edgesplit.pipeline.page_plan import PagePlan, is_prefetch, plan_page
from edgesplit.ports.http import Headers, ProxyRequest

KEYRING = Keyring((HmacKey("k", bytes(range(32))),))
UA = ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
CONFIG = parse_config(
    {
        "schema_version": 1,
        "version": "v1",
        "experiments": [
            {
                "key": "move",
                "variants": [
                    {"key": "control", "weight": 0},
                    {"key": "b", "redirect": {"url": "https://lp.example.net/x?from=edge", "status": 307}},
                ],
                "targeting": {"paths": ["/old"]},
            },
            {
                "key": "loop-a",
                "variants": [{"key": "control", "weight": 0}, {"key": "b", "redirect": {"url": "/loop-b"}}],
                "targeting": {"paths": ["/loop-a"]},
            },
            {
                "key": "loop-b",
                "variants": [{"key": "control", "weight": 0}, {"key": "b", "redirect": {"url": "/loop-a"}}],
                "targeting": {"paths": ["/loop-b"]},
            },
            {
                "key": "quiet",
                "variants": [
                    {"key": "control", "weight": 0},
                    {"key": "b", "redirect": {"url": "/new", "keep_query": False}},
                ],
                "targeting": {"paths": ["/quiet"]},
            },
        ],
    }
)


def plan(path: str, method: str = "GET", *headers: tuple[str, str]) -> PagePlan:
    request = ProxyRequest(method, f"https://shop.example{path}", Headers([UA, *headers]))
    decision = decide(
        request,
        request.headers,
        {"edgesplit_id": "visitor-1"},
        CONFIG,
        KEYRING,
        now=1_000_000.0,
        new_id=lambda: "new",
        exposure_window_seconds=60,
    )
    return plan_page(CONFIG, decision, request)


def test_a_redirect_to_another_site_merges_the_query() -> None:
    redirect = plan("/old?a=1").redirect
    assert redirect is not None and redirect.status == 307
    assert redirect.headers.get("location") == "https://lp.example.net/x?from=edge&a=1"


def test_keep_query_false_drops_it() -> None:
    redirect = plan("/quiet?secret=1").redirect
    assert redirect is not None and redirect.headers.get("location") == "/new"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
def test_only_get_and_head_are_redirected(method: str) -> None:
    assert plan("/old", method).redirect is None
    assert plan("/old", "HEAD").redirect is not None


def test_two_experiments_redirecting_to_each_other_cannot_loop() -> None:
    assert plan("/loop-a").redirect is None and plan("/loop-b").redirect is None


@pytest.mark.parametrize(
    ("header", "value", "prefetch"),
    [
        ("sec-purpose", "prefetch", True),
        ("sec-purpose", "prefetch;prerender", True),
        ("purpose", "Prefetch", True),
        ("x-moz", "prefetch", True),
        ("x-purpose", "preview", True),
        ("sec-purpose", "", False),
        ("accept", "text/html", False),
    ],
)
def test_prefetches_are_recognised(header: str, value: str, prefetch: bool) -> None:
    assert is_prefetch(Headers([(header, value)])) is prefetch
    assert (plan("/old", "GET", (header, value)).redirect is None) is prefetch


SCRIPT = "window.x=1;"
HASH = "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'"


@pytest.mark.parametrize(
    ("policies", "expected", "nonce"),
    [
        ([], [], None),
        (["img-src *"], ["img-src *"], None),
        (["default-src 'self'"], [f"default-src 'self' {HASH}"], None),
        (["script-src 'none'"], [f"script-src {HASH}"], None),
        (["script-src 'self' 'unsafe-inline'"], ["script-src 'self' 'unsafe-inline'"], None),
        (
            ["script-src 'unsafe-inline' 'strict-dynamic'"],
            [f"script-src 'unsafe-inline' 'strict-dynamic' {HASH}"],
            None,
        ),
        (
            ["default-src 'self'; script-src-elem 'self'; script-src 'self'"],
            [f"default-src 'self'; script-src-elem 'self' {HASH}; script-src 'self'"],
            None,
        ),
        (["script-src 'nonce-abc' 'self'"], ["script-src 'nonce-abc' 'self'"], "abc"),
        (
            ["script-src 'nonce-abc'", "default-src 'self'"],
            ["script-src 'nonce-abc'", f"default-src 'self' {HASH}"],
            "abc",
        ),
    ],
)
def test_the_policy_is_made_to_allow_the_script(
    policies: list[str], expected: list[str], nonce: str | None
) -> None:
    headers = Headers([("content-security-policy", p) for p in policies])
    assert allow_inline_script(headers, SCRIPT) == nonce
    assert headers.get_all("content-security-policy") == expected


def test_whitespace_other_than_spaces_separates_sources() -> None:
    headers = Headers([("content-security-policy", "script-src\t'self'")])
    allow_inline_script(headers, SCRIPT)
    assert headers.get_all("content-security-policy") == [f"script-src 'self' {HASH}"]


def test_report_only_policies_get_the_same_treatment() -> None:
    headers = Headers([("content-security-policy-report-only", "script-src 'self'")])
    allow_inline_script(headers, SCRIPT)
    assert headers.get_all("content-security-policy-report-only") == [f"script-src 'self' {HASH}"]


@given(st.lists(st.text(max_size=120), max_size=3))
def test_any_policy_text_is_handled_and_then_allows_the_script(policies: list[str]) -> None:
    headers = Headers([("content-security-policy", p) for p in policies])
    nonce = allow_inline_script(headers, SCRIPT)
    for policy in headers.get_all("content-security-policy"):
        governing = [
            d.strip()
            for d in policy.split(";")
            if d.split()[:1] and d.split()[0].lower() in ("script-src-elem", "script-src", "default-src")
        ]
        if governing:
            sources = governing[0]
            assert (
                HASH in sources or (nonce and f"'nonce-{nonce}'" in sources) or "'unsafe-inline'" in sources
            )


def test_the_bootstrap_cannot_be_closed_early_by_config_text() -> None:
    claims = DecisionClaims("v", {"e": "b"}, "v1</script><script>alert(1)//\u2028", 0, 0)
    source = bootstrap_source(claims)
    assert "</script" not in source.lower() and "<!--" not in source and "\u2028" not in source
    tag = bootstrap_tag(source, 'n"><x', "/__edgesplit", "c", "p")
    assert tag.startswith('<script nonce="n&quot;&gt;&lt;x" data-edgesplit-bootstrap')
    assert tag.lower().count("</script") == 1
