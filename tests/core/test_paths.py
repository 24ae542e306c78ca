from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core.paths import PathPatternError, compile_path_patterns


@pytest.mark.parametrize(
    "pattern,path,expected",
    [
        ("/", "/", True),
        ("/", "/x", False),
        ("/products/*", "/products/shoe", True),
        ("/products/*", "/products/shoe/red", False),
        ("/products/**", "/products", True),
        ("/products/**", "/products/", True),
        ("/products/**", "/products/a/b", True),
        ("/products/**", "/productsx", False),
        ("/a/**/z", "/a/b/c/z", True),
        ("/item-?", "/item-7", True),
        ("/item-?", "/item-/", False),
        ("/a.b", "/axb", False),  # regex characters are literal
        ("/a+(b)", "/a+(b)", True),
    ],
)
def test_glob(pattern: str, path: str, expected: bool) -> None:
    matcher = compile_path_patterns([pattern])
    assert matcher is not None and matcher(path) is expected


def test_exclude_wins() -> None:
    matcher = compile_path_patterns(["/**"], ["/api/**"])
    assert matcher is not None
    assert matcher("/shop") and not matcher("/api/v1")


def test_no_patterns_means_every_path() -> None:
    assert compile_path_patterns([], []) is None


def test_relative_patterns_are_refused() -> None:
    with pytest.raises(PathPatternError):
        compile_path_patterns(["shop"])


@given(st.text(st.characters(exclude_characters="*?"), max_size=30).map(lambda s: "/" + s))
def test_a_literal_pattern_matches_exactly_itself(path: str) -> None:
    matcher = compile_path_patterns([path])
    assert matcher is not None and matcher(path)
    assert not matcher(path + "x")


@given(st.text(max_size=30).map(lambda s: "/" + s))
def test_any_pattern_compiles_to_a_valid_regex(pattern: str) -> None:
    matcher = compile_path_patterns([pattern])
    assert matcher is not None and matcher("/") in (True, False)
