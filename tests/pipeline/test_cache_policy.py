from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.pipeline.cache_policy import cache_key, client_cache_control, shared_ttl
from edgesplit.ports.http import Headers

NOW = 1_764_000_000


def test_key_carries_the_variant_vector_not_the_visitor() -> None:
    a = cache_key("https://Shop.Example/p?id=1", [("hero", "bold"), ("price", "b")])
    b = cache_key("https://shop.example/p?id=1", [("price", "b"), ("hero", "bold")])
    assert a == b == "https://shop.example/p?id=1&__edgesplit=hero%3Abold%2Cprice%3Ab"
    assert cache_key("https://shop.example/p?id=1", [("hero", "control")]) != a
    assert cache_key("https://shop.example/p", []) == "https://shop.example/p"


def test_key_drops_tracking_params_and_forged_vectors() -> None:
    key = cache_key(
        "https://s.ex/p?utm_source=x&id=2&gclid=9&__edgesplit=hero:bold",
        [("hero", "control")],
        ["utm_*", "gclid"],
    )
    assert key == "https://s.ex/p?id=2&__edgesplit=hero%3Acontrol"


@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.from_regex(r"[a-z]{1,5}", fullmatch=True)),
        max_size=4,
        unique_by=lambda t: t[0],
    ),
    st.lists(
        st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.from_regex(r"[a-z]{1,5}", fullmatch=True)),
        max_size=4,
        unique_by=lambda t: t[0],
    ),
)
def test_distinct_vectors_give_distinct_keys(one: list, two: list) -> None:
    same = sorted(one) == sorted(two)
    assert (cache_key("https://s.ex/p", one) == cache_key("https://s.ex/p", two)) == same


def h(**fields: str) -> Headers:
    return Headers([(k.replace("_", "-"), v) for k, v in fields.items()])


@pytest.mark.parametrize(
    "method,status,headers,ttl",
    [
        ("GET", 200, h(cache_control="public, s-maxage=60, max-age=5"), 60),
        ("GET", 200, h(cache_control="max-age=30"), 30),
        ("GET", 200, h(cache_control="max-age=0"), None),
        ("GET", 200, h(cache_control="no-store, max-age=30"), None),
        ("GET", 200, h(cache_control="private, max-age=30"), None),
        ("GET", 200, h(cache_control="no-cache, max-age=30"), None),
        ("GET", 200, h(cache_control="max-age=30", set_cookie="a=1"), None),
        ("GET", 200, h(cache_control="max-age=30", vary="Accept-Encoding, *"), None),
        ("GET", 200, h(), None),
        ("GET", 200, h(expires="Mon, 24 Nov 2025 16:10:00 GMT"), 600),
        ("GET", 200, h(expires="garbage"), None),
        ("GET", 206, h(cache_control="max-age=30"), None),
        ("GET", 500, h(cache_control="max-age=30"), None),
        ("GET", 404, h(cache_control="max-age=30"), 30),
        ("POST", 200, h(cache_control="max-age=30"), None),
        ("GET", 200, h(cache_control="max-age=99999999999"), None),
    ],
)
def test_shared_ttl(method: str, status: int, headers: Headers, ttl: int | None) -> None:
    assert shared_ttl(method, status, headers, NOW) == ttl


def test_authorized_requests_need_explicit_permission() -> None:
    assert shared_ttl("GET", 200, h(cache_control="max-age=30"), NOW, has_authorization=True) is None
    assert shared_ttl("GET", 200, h(cache_control="public, max-age=30"), NOW, has_authorization=True) == 30


@pytest.mark.parametrize(
    "before,after",
    [
        ("public, max-age=10, s-maxage=60", "private, max-age=10"),
        (None, "private"),
        ("no-store", "no-store"),
        ("private, max-age=5", "private, max-age=5"),
    ],
)
def test_variant_pages_become_private(before: str | None, after: str) -> None:
    headers = h(cache_control=before) if before else h()
    client_cache_control(headers, variant_dependent=True)
    assert headers.get("cache-control") == after


def test_pages_without_variants_keep_their_cache_control() -> None:
    headers = h(cache_control="public, s-maxage=60")
    client_cache_control(headers, variant_dependent=False)
    assert headers.get("cache-control") == "public, s-maxage=60"
