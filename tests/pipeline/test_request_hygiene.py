"""Parsers that decide what the origin and the cache see (also run inside Pyodide): properties
over generated input, and the guards' bookkeeping."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.pipeline.admin_guard import AdminGuard, AdminLimits, admin_token_problem
from edgesplit.pipeline.options import track_limits_from_text, trusted_upstreams_from_text
from edgesplit.pipeline.request_hygiene import (
    TrustedUpstreams,
    clean_query,
    normalize_path,
    sanitize_request,
    valid_host,
)
from edgesplit.pipeline.track_guard import TrackGuard, TrackLimits, token_reason_label, track_reason_label
from edgesplit.ports.http import Headers, ProxyRequest, ProxyResponse

IGNORED = ("utm_*", "gclid")
segments = st.lists(st.sampled_from(["a", "b", ".", "..", "%2e", "%2E%2e", "", "x.y"]), max_size=8)


@given(segments)
def test_normalized_paths_have_no_dot_segments_and_are_stable(parts: list[str]) -> None:
    path = normalize_path("/" + "/".join(parts))
    assert path.startswith("/")
    assert not any(unquote(s) in (".", "..") for s in path.split("/"))
    assert normalize_path(path) == path


def test_dot_segments_resolve_like_rfc_3986() -> None:
    assert normalize_path("/x/../checkout") == "/checkout"
    assert normalize_path("/a/b/./c/../d/") == "/a/b/d/"
    assert normalize_path("/../../etc") == "/etc"
    assert normalize_path("/a/%2e%2e/b") == "/b"


names = st.sampled_from(["utm_source", "utm_", "gclid", "keep", "lang", "__edgesplit", "a b", "%75tm_x"])
values = st.text(alphabet="ab1=;&%+", max_size=6)


@given(st.lists(st.tuples(names, values), max_size=6), st.sampled_from(["&", ";"]))
def test_clean_query_drops_ignored_names_and_is_stable(pairs: list[tuple[str, str]], sep: str) -> None:
    query = sep.join(f"{k}={v}" for k, v in pairs)
    cleaned = clean_query(query, IGNORED)
    assert ";" not in cleaned
    for part in filter(None, cleaned.split("&")):
        name = unquote(part.split("=", 1)[0].replace("+", " "))
        assert not name.startswith("utm_") and name not in ("gclid", "__edgesplit")
    assert clean_query(cleaned, IGNORED) == cleaned


hosts = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}(:[1-9][0-9]{0,3})?", fullmatch=True
)


@given(hosts)
def test_plain_hosts_are_valid(host: str) -> None:
    assert valid_host(host)


@given(hosts, st.sampled_from(["/", "?", "#", "@", " ", "\\", "[", "]", '"', "<"]), st.text(max_size=8))
def test_hosts_with_anything_else_are_not(host: str, bad: str, tail: str) -> None:
    assert not valid_host(host + bad + tail)


def test_ipv6_and_ports() -> None:
    assert valid_host("[::1]") and valid_host("[2001:db8::1]:8443")
    assert (
        not valid_host("[::1")
        and not valid_host("[zz::1]")
        and not valid_host("h:0")
        and not valid_host("h:65536")
    )


def request(url: str, *headers: tuple[str, str], client: str = "198.51.100.7") -> ProxyRequest:
    return ProxyRequest("GET", url, Headers([("host", "shop.example"), *headers]), None, client)


def test_client_forwarding_headers_are_replaced_unless_the_peer_is_trusted() -> None:
    hostile = (("x-forwarded-host", "evil"), ("forwarded", "host=evil"), ("x_forwarded_host", "evil"))
    out = sanitize_request(
        request("http://shop.example/p", *hostile), IGNORED, "x-edgesplit-decision", TrustedUpstreams()
    )
    assert isinstance(out, ProxyRequest)
    assert out.headers.get("x-forwarded-host") == "shop.example" and "forwarded" not in out.headers
    assert out.headers.get("x-forwarded-for") == "198.51.100.7" and "x_forwarded_host" not in out.headers
    trusted = TrustedUpstreams(["198.51.100.0/24"])
    chain = ("x-forwarded-for", "203.0.113.1")
    out = sanitize_request(
        request("http://shop.example/p", chain, ("x-forwarded-host", "a.example")), IGNORED, "x", trusted
    )
    assert isinstance(out, ProxyRequest)
    assert out.client_ip == "203.0.113.1" and out.headers.get("x-forwarded-host") == "a.example"
    assert out.headers.get("x-forwarded-for") == "203.0.113.1, 198.51.100.7"


def test_a_bad_host_is_a_400() -> None:
    bad = ProxyRequest("GET", "http://x/p", Headers([("host", "h/internal?")]), None, None)
    out = sanitize_request(bad, IGNORED, "x", TrustedUpstreams())
    assert isinstance(out, ProxyResponse) and out.status == 400


def test_track_guard_counts_once_and_caps() -> None:
    guard = TrackGuard(TrackLimits(per_visitor_per_day=2, per_token=0, per_client_per_second=0))
    event = {"id": "k1", "visitor_id": "v"}
    assert guard.admit(event, "t", 0.0) is None
    assert guard.admit(event, "t", 1.0) == "duplicate"
    assert guard.admit({"id": "k2", "visitor_id": "v"}, "t", 2.0) is None
    assert guard.admit({"id": "k3", "visitor_id": "v"}, "t", 3.0) == "visitor_cap"
    assert guard.admit({"id": "k3", "visitor_id": "v"}, "t", 86_403.0) is None  # a new day


def test_client_bucket_refills() -> None:
    guard = TrackGuard(TrackLimits(per_client_per_second=1.0, per_client_burst=2))
    assert [guard.admit_client("a", 0.0) for _ in range(3)] == [True, True, False]
    assert guard.admit_client("b", 0.0) and guard.admit_client("a", 1.0)


@given(st.text(max_size=200))
def test_metric_labels_come_from_a_fixed_vocabulary(reason: str) -> None:
    assert track_reason_label(reason) in {
        "body", "type", "unknown field", "event", "value", "id", "timestamp", "token", "first_token",
        "experiment", "expected", "observed", "not drift", "method", "rate_limited", "visitor_cap",
        "token_cap", "other",
    }  # fmt: skip
    assert token_reason_label(reason) in {
        "malformed", "unsupported_version", "unknown_key", "retired_key", "bad_signature",
        "expired", "not_yet_valid", "missing", "no_visitor", "other",
    } or token_reason_label(reason).isidentifier()  # fmt: skip


def test_admin_lockout_and_global_ceiling() -> None:
    guard = AdminGuard(
        AdminLimits(max_failures=3, window_seconds=60, lockout_seconds=100, global_per_minute=5)
    )
    for _ in range(3):
        assert guard.retry_after("a", 10.0) is None
        guard.failed("a", 10.0)
    assert guard.retry_after("a", 10.0) == 100 and guard.retry_after("b", 10.0) is None
    assert guard.retry_after("a", 111.0) is None
    for n in range(5):
        guard.failed(f"c{n}", 130.0)
    assert guard.retry_after("anyone", 131.0) is not None and guard.retry_after("anyone", 181.0) is None
    assert (
        admin_token_problem("short")
        and admin_token_problem("x" * 32) is None
        and admin_token_problem(None) is None
    )


def test_option_text_is_checked() -> None:
    assert track_limits_from_text('{"per_token": 3}').per_token == 3
    for bad in ("[]", "{", '{"per_tokens": 1}', '{"per_token": -1}', '{"per_token": true}'):
        try:
            track_limits_from_text(bad)
        except ValueError:
            continue
        raise AssertionError(bad)
    assert trusted_upstreams_from_text(" 10.0.0.0/8, ::1 ") == ("10.0.0.0/8", "::1")
