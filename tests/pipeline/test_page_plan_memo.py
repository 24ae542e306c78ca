"""``plan_page`` remembers, per config object, which experiments can act on a page at all: a new
config's redirects, rewrites and HTML changes take effect at once, and vanish with it."""

from __future__ import annotations

from typing import Any

from edgesplit.core import Config, HmacKey, Keyring, parse_config
from edgesplit.pipeline.decide import decide
from edgesplit.pipeline.page_plan import PagePlan, acting_experiments, plan_page
from edgesplit.ports.http import Headers, ProxyRequest

KEYRING = Keyring((HmacKey("k", bytes(range(32))),))


def config(treatment: dict[str, Any]) -> Config:
    variants = [{"key": "control", "weight": 0}, {"key": "b", **treatment}]
    return parse_config(
        {
            "schema_version": 1,
            "version": "v1",
            "experiments": [
                {"key": "plain", "variants": [{"key": "a"}, {"key": "b"}]},
                {"key": "move", "variants": variants},
            ],
        }
    )


def plan(cfg: Config) -> PagePlan:
    """The page plan for a returning visitor of ``cfg`` on one page."""
    page = ProxyRequest(
        "GET", "https://shop.example/page", Headers([("user-agent", "Mozilla/5.0 Firefox/130.0")])
    )
    cookies = {"edgesplit_id": "visitor-1"}
    at = {"now": 1_000_000.0, "new_id": lambda: "new", "exposure_window_seconds": 60}
    return plan_page(cfg, decide(page, page.headers, cookies, cfg, KEYRING, **at), page)  # type: ignore[arg-type]


def test_a_config_change_adds_and_removes_page_actions_at_once() -> None:
    quiet = config({})
    redirecting = config({"redirect": {"url": "https://lp.example.net/x", "status": 307}})
    changing = config({"changes": [{"selector": "h1", "action": "set_text", "text": "Hello"}]})
    assert acting_experiments(quiet) == {}
    assert plan(quiet).redirect is None
    moved = plan(redirecting).redirect
    assert moved is not None and moved.headers.get("location") == "https://lp.example.net/x"
    shared = plan(changing)
    assert shared.redirect is None and shared.changes and shared.shared == ("move",)
    assert "move" not in dict(shared.fetch_decision.vector) and "plain" in dict(shared.fetch_decision.vector)
    again = plan(quiet)
    assert again.redirect is None and again.changes == () and again.shared == ()
    assert set(acting_experiments(redirecting)) == {"move"}
