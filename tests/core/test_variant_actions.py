"""Variant actions in the config: split-URL rewrites and redirects, HTML changes and the
selector subset, each refused with the JSON path of the field and the reason."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, document, experiment

from edgesplit.core import ConfigError, parse_config
from edgesplit.core.selectors import SelectorError, check_selector
from edgesplit.core.variant_actions import Change, Redirect, Rewrite, with_class, without_class
from edgesplit.schema import schema_text

ACCEPTED = [
    "h1",
    "*",
    "#hero",
    ".cta",
    "a.btn.primary",
    "div > p",
    "main section  h2",
    "[data-test]",
    '[data-x="a b"]',
    "[href^='https']",
    "a[href$=pdf]",
    "[class~=x]",
    "[lang|=en]",
    '[title*="sale"]',
    "li:first-child",
    "li:nth-child(3)",
    "p:first-of-type",
    "p:nth-of-type(2)",
    "a:not(.x)",
    "a:not([href])",
    "  body > h1#t.c[data-a='1']:first-child  ",
]
REFUSED = {
    "a, b": "selector lists",
    "a + b": "expected a selector",
    "a ~ b": "expected a selector",
    "a:hover": "unsupported pseudo-class",
    "a::before": "unsupported pseudo-class",
    "li:last-child": "unsupported pseudo-class",
    "li:nth-child(2n+1)": "unsupported pseudo-class",
    "a:not(b c)": ":not() takes one compound",
    "a:not(:not(b))": ":not() cannot nest",
    "div:has(p)": "unsupported pseudo-class",
    "[x='a\\'b']": "attribute selector",
    "[x=y i]": "attribute selector",
    "svg|a": "unsupported combinator",
    "\\31 a": "expected a selector",
    ".caf\u00e9": "printable ASCII",
    "a >": "combinator must be followed",
    "> a": "expected a selector",
    "": "must not be empty",
    "a" * 600: "at most 512",
}


@pytest.mark.parametrize("selector", ACCEPTED)
def test_the_subset_is_accepted(selector: str) -> None:
    assert check_selector(selector) == selector.strip()


@pytest.mark.parametrize(("selector", "reason"), REFUSED.items())
def test_outside_the_subset_is_refused_with_a_reason(selector: str, reason: str) -> None:
    with pytest.raises(
        SelectorError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")
    ):
        check_selector(selector)


@given(st.text(max_size=80))
def test_any_text_is_either_a_selector_or_a_selector_error(text: str) -> None:
    try:
        assert check_selector(text) == text.strip()
    except SelectorError as exc:
        assert str(exc)


@given(st.text(alphabet="ab#.[]=>: *()'\"-_1^$~|,+", max_size=40))
def test_selector_like_text_never_crashes_the_checker(text: str) -> None:
    with contextlib.suppress(SelectorError):
        assert check_selector(text) == text.strip()


def variants(**actions: object) -> list[dict[str, object]]:
    return [{"key": "control"}, {"key": "b", **actions}]


def problems(doc: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    return {problem.path: problem.message for problem in info.value.problems}


def test_actions_are_parsed() -> None:
    cfg = config(
        experiment("split", variants=variants(rewrite={"path": "/pricing-b", "keep_query": False})),
        experiment("move", variants=variants(redirect={"url": "https://lp.example.net/x", "status": 307})),
        experiment(
            "hero",
            variants=variants(
                changes=[
                    {"selector": "h1", "action": "set_text", "text": "Hello"},
                    {"selector": "a.cta", "action": "set_attribute", "name": "Data-X", "value": "1"},
                    {"selector": "a.cta", "action": "add_class", "class": "big"},
                    {"selector": "#old", "action": "remove"},
                    {"selector": "main", "action": "append", "html": "<p>new</p>"},
                ]
            ),
        ),
        experiment("far", variants=variants(rewrite={"url": "https://lp.example.net:8443/p"})),
        pages={"rewrite_hosts": ["lp.example.net:8443"], "bootstrap": True},
    )
    split, move, hero, far = (cfg.experiment(k) for k in ("split", "move", "hero", "far"))
    assert split is not None and move is not None and hero is not None and far is not None
    assert split.variants[0].actions is None
    assert split.variants[1].actions.rewrite == Rewrite("/pricing-b", None, False)
    assert move.variants[1].actions.redirect == Redirect("https://lp.example.net/x", 307, True)
    assert far.variants[1].actions.rewrite == Rewrite(None, "https://lp.example.net:8443/p", True)
    assert hero.variants[1].actions.changes == (
        Change("h1", "set_text", "Hello"),
        Change("a.cta", "set_attribute", "1", "data-x"),
        Change("a.cta", "add_class", "big"),
        Change("#old", "remove"),
        Change("main", "append", "<p>new</p>"),
    )
    assert cfg.settings.pages.bootstrap is True


BAD_VARIANTS = [
    (
        {"changes": [{"selector": "a, b", "action": "remove"}]},
        "experiments[0].variants[1].changes[0].selector",
        "selector lists",
    ),
    (
        {"changes": [{"selector": "a", "action": "explode"}]},
        "experiments[0].variants[1].changes[0].action",
        "must be one of",
    ),
    (
        {"changes": [{"selector": "a", "action": "set_text"}]},
        "experiments[0].variants[1].changes[0].text",
        "is required by action 'set_text'",
    ),
    (
        {"changes": [{"selector": "a", "action": "remove", "html": "<b>"}]},
        "experiments[0].variants[1].changes[0].html",
        "is not used by action 'remove'",
    ),
    (
        {"changes": [{"selector": "a", "action": "set_attribute", "name": "onclick", "value": "x()"}]},
        "experiments[0].variants[1].changes[0].name",
        "script-bearing",
    ),
    (
        {"changes": [{"selector": "a", "action": "set_attribute", "name": "a b", "value": ""}]},
        "experiments[0].variants[1].changes[0].name",
        "attribute name",
    ),
    (
        {"changes": [{"selector": "a", "action": "add_class", "class": "two words"}]},
        "experiments[0].variants[1].changes[0].class",
        "one class name",
    ),
    (
        {"changes": [{"selector": "a", "action": "append", "html": "x" * 70_000}]},
        "experiments[0].variants[1].changes[0].html",
        "at most 65536",
    ),
    ({"rewrite": {"path": "pricing-b"}}, "experiments[0].variants[1].rewrite.path", "starting with '/'"),
    ({"rewrite": {"path": "//evil.example/x"}}, "experiments[0].variants[1].rewrite.path", "names a host"),
    ({"rewrite": {}}, "experiments[0].variants[1].rewrite", "exactly one of"),
    (
        {"rewrite": {"path": "/a", "url": "https://x.example/"}},
        "experiments[0].variants[1].rewrite",
        "exactly one",
    ),
    ({"rewrite": {"url": "javascript:alert(1)"}}, "experiments[0].variants[1].rewrite.url", "http(s) URL"),
    (
        {"rewrite": {"url": "https://user:pw@lp.example.net/"}},
        "experiments[0].variants[1].rewrite.url",
        "without credentials",
    ),
    (
        {"rewrite": {"url": "https://unlisted.example/p"}},
        "experiments[0].variants[1].rewrite.url",
        "not listed in pages.rewrite_hosts",
    ),
    ({"redirect": {"url": "/x", "status": 200}}, "experiments[0].variants[1].redirect.status", "one of 301"),
    ({"redirect": {"url": "//evil.example"}}, "experiments[0].variants[1].redirect.url", "names a host"),
    ({"redirect": {"url": "data:text/html,x"}}, "experiments[0].variants[1].redirect.url", "http(s) URL"),
    ({"redirect": {"url": "/x"}, "rewrite": {"path": "/y"}}, "experiments[0].variants[1]", "not both"),
    (
        {"redirect": {"url": "/x", "keep_query": "yes"}},
        "experiments[0].variants[1].redirect.keep_query",
        "true or false",
    ),
]


@pytest.mark.parametrize(("actions", "path", "message"), BAD_VARIANTS)
def test_bad_actions_are_refused_with_their_path(actions: dict, path: str, message: str) -> None:
    found = problems(document(experiment("e", variants=variants(**actions))))
    assert path in found, found
    assert message in found[path]


@pytest.mark.parametrize(
    ("pages", "path"),
    [
        ({"rewrite_hosts": ["Not A Host"]}, "pages.rewrite_hosts[0]"),
        ({"bootstrap": "yes"}, "pages.bootstrap"),
        ({"max_html_bytes": 10}, "pages.max_html_bytes"),
        ({"colour": 1}, "pages.colour"),
    ],
)
def test_bad_pages_settings_are_refused_with_their_path(pages: dict, path: str) -> None:
    assert path in problems(document(experiment("e"), pages=pages))


def test_every_action_is_parsed_with_its_payload() -> None:
    cfg = config(experiment("e", variants=variants(changes=EVERY_ACTION)))
    variant = cfg.experiments[0].variants[1]
    assert variant.actions is not None
    parsed = variant.actions.changes
    assert [c.action for c in parsed] == [item["action"] for item in EVERY_ACTION]
    assert [c.text for c in parsed] == ["x", "t", "", "c", "c", *["<b>x</b>"] * 5, ""]
    assert [c.name for c in parsed] == ["", "title", "title", *[""] * 8]


def test_class_edits_are_token_based() -> None:
    assert with_class(None, "a") == "a"
    assert with_class("x  a\ty", "a") == "x a y"
    assert with_class("x", "a") == "x a"
    assert without_class("a x a", "a") == "x"
    assert without_class("a", "a") == ""


jsonschema = pytest.importorskip("jsonschema")
VALIDATOR = jsonschema.Draft202012Validator(json.loads(schema_text()))


@pytest.mark.parametrize(("actions", "path", "message"), BAD_VARIANTS)
def test_the_schema_refuses_what_the_validator_refuses_where_it_can_tell(
    actions: dict, path: str, message: str
) -> None:
    doc = document(experiment("e", variants=variants(**actions)))
    if any(word in message for word in ("selector lists", "not listed")):
        return  # the selector grammar and the host list are beyond a JSON Schema
    assert list(VALIDATOR.iter_errors(doc)) != []


EVERY_ACTION = [
    {"selector": "h1", "action": "set_text", "text": "x"},
    {"selector": "a", "action": "set_attribute", "name": "title", "value": "t"},
    {"selector": "a", "action": "remove_attribute", "name": "title"},
    {"selector": "a", "action": "add_class", "class": "c"},
    {"selector": "a", "action": "remove_class", "class": "c"},
    *(
        {"selector": "p", "action": a, "html": "<b>x</b>"}
        for a in ("replace", "before", "after", "prepend", "append")
    ),
    {"selector": "p", "action": "remove"},
]


def test_the_schema_accepts_every_action() -> None:
    doc = document(
        experiment(
            "e",
            variants=variants(changes=EVERY_ACTION),
        ),
        experiment("r", variants=variants(rewrite={"url": "https://lp.example.net/x", "keep_query": False})),
        experiment("d", variants=variants(redirect={"url": "/x", "status": 301})),
        pages={"rewrite_hosts": ["lp.example.net"], "bootstrap": True, "max_html_bytes": 4096},
    )
    parse_config(doc)
    assert list(VALIDATOR.iter_errors(doc)) == []


CHANGE = st.fixed_dictionaries(
    {
        "selector": st.sampled_from(["h1", "a.cta", "a, b", "li:nth-child(2)", "", "x" * 600]),
        "action": st.sampled_from(["set_text", "set_attribute", "add_class", "replace", "remove", "boom"]),
    },
    optional={
        "text": st.text(max_size=5) | st.integers(),
        "name": st.sampled_from(["title", "onclick", "a b", "", "data-x"]),
        "value": st.text(max_size=5),
        "class": st.sampled_from(["c", "two words", "", 'q"']),
        "html": st.text(max_size=5),
    },
)
ACTIONS = st.fixed_dictionaries(
    {},
    optional={
        "changes": st.lists(CHANGE, max_size=3),
        "rewrite": st.fixed_dictionaries(
            {},
            optional={
                "path": st.sampled_from(["/b", "b", "//h/x", "/a b", "/x?y"]),
                "url": st.sampled_from(
                    ["https://lp.example.net/p", "https://u@h/", "ftp://x/", "https://h/#f"]
                ),
                "keep_query": st.booleans() | st.just("yes"),
            },
        ),
        "redirect": st.fixed_dictionaries(
            {"url": st.sampled_from(["/b", "//h", "https://lp.example.net/x", "javascript:x", "/a b"])},
            optional={"status": st.sampled_from([301, 302, 200, 399, "302"])},
        ),
    },
)


@given(ACTIONS)
def test_the_schema_is_never_stricter_than_the_validator_on_variant_actions(actions: dict) -> None:
    doc = document(experiment("e", variants=variants(**actions)), pages={"rewrite_hosts": ["lp.example.net"]})
    try:
        parse_config(doc)
    except ConfigError:
        return
    assert list(VALIDATOR.iter_errors(doc)) == []
