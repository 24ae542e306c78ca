from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.pipeline.cookies import format_set_cookie, parse_cookie_header, remove_cookie


@pytest.mark.parametrize(
    "header,expected",
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ('a="quoted"', {"a": "quoted"}),
        ("a=1; a=2", {"a": "1"}),
        ("junk; =x; b=2; c", {"b": "2"}),
        ("bad name=1; ok=2", {"ok": "2"}),
        ("a=x=y", {"a": "x=y"}),
        ("", {}),
        (None, {}),
        ("a=" + "v" * 20000, {}),
    ],
)
def test_parse(header: str | None, expected: dict) -> None:
    assert parse_cookie_header(header) == expected


@given(st.text(max_size=500))
def test_any_header_parses_to_names_without_separators(header: str) -> None:
    parsed = parse_cookie_header(header)
    assert all(name and ";" not in name and "=" not in name and " " not in name for name in parsed)
    assert all(";" not in value for value in parsed.values())


@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9_-]{0,20}", fullmatch=True),
        max_size=10,
    )
)
def test_round_trip(cookies: dict) -> None:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    assert parse_cookie_header(header) == cookies


def test_format_set_cookie() -> None:
    assert (
        format_set_cookie("id", "v", max_age=60, domain=".ex.com", secure=True, same_site="Strict")
        == "id=v; Max-Age=60; Path=/; Domain=.ex.com; Secure; HttpOnly; SameSite=Strict"
    )
    # SameSite=None without Secure is refused by browsers: Secure is forced.
    assert "Secure" in format_set_cookie("id", "v", max_age=1, secure=False, same_site="None")
    assert "Secure" not in format_set_cookie("id", "v", max_age=1, secure=False)


def test_remove_cookie() -> None:
    assert remove_cookie("a=1; edgesplit_decision=x; b=2", {"edgesplit_decision"}) == "a=1; b=2"
    assert remove_cookie("edgesplit_decision=x", {"edgesplit_decision"}) is None
