"""Issue 13, finding 4: patterns a config holds are matched against what a visitor sends, so
matching must take linear time; what cannot be matched so is refused at validation, with the
path of the field.

The requests below took 4.9 s (26 bytes of user agent) and 20 s (a 4 KB path) before; with
longer inputs the old code would need hours. Each test gives the proxy a generous 60 s."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from proxy_support import CONFIG, running_proxy

from edgesplit.core import ConfigError, parse_config

DEADLINE = 60.0


def with_experiment(targeting: dict[str, Any], **top: Any) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config["experiments"] = [
        {"key": "redos", "variants": [{"key": "a"}, {"key": "b"}], "targeting": targeting}
    ]
    config.update(top)
    return config


async def answered_in_time(proxy: Any, path: str, headers: dict[str, str]) -> int:
    request = asyncio.ensure_future(proxy.get(path, "redos-visitor-1", headers=headers))
    health = await asyncio.wait_for(proxy.get("/__edgesplit/health"), DEADLINE)
    assert health[0] == 200  # others are not stalled behind the match
    status, _, _ = await asyncio.wait_for(request, DEADLINE)
    return status


async def test_nested_quantifier_regex_in_targeting_does_not_stall(tmp_path: Path) -> None:
    config = with_experiment({"paths": ["/nocache/**"], "when": {"user_agent": {"$regex": "(a+)+$"}}})
    async with running_proxy(tmp_path, config) as proxy:
        assert await answered_in_time(proxy, "/nocache/x", {"User-Agent": "a" * 40 + "!"}) == 200


async def test_nested_quantifier_bot_pattern_does_not_stall(tmp_path: Path) -> None:
    config = with_experiment({"paths": ["/nocache/**"]}, policy={"bot_patterns": ["(a+)+$"]})
    async with running_proxy(tmp_path, config) as proxy:
        assert await answered_in_time(proxy, "/nocache/x", {"User-Agent": "a" * 40 + "!"}) == 200


async def test_stacked_double_star_glob_is_linear(tmp_path: Path) -> None:
    config = with_experiment({"paths": ["/**/**/**/z"]})
    async with running_proxy(tmp_path, config) as proxy:
        assert await answered_in_time(proxy, "/nocache" + "/" * 8000, {}) == 200


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (
            with_experiment({"when": {"user_agent": {"$regex": "(a)\\1"}}}),
            "experiments[0].targeting.when.user_agent.$regex: invalid regular expression (linear-time subset)",
        ),
        (
            with_experiment({"when": {"user_agent": {"$regex": "(?=bot)"}}}),
            "experiments[0].targeting.when.user_agent.$regex: invalid regular expression (linear-time subset)",
        ),
        (
            with_experiment({}, policy={"bot_patterns": ["bot", "(?<!x)crawl"]}),
            "policy.bot_patterns[1]: invalid regular expression (linear-time subset)",
        ),
        (
            with_experiment({"when": {"user_agent": {"$regex": "(a{100}){100}"}}}),
            "experiments[0].targeting.when.user_agent.$regex: invalid regular expression (linear-time subset)",
        ),
    ],
)
def test_unsafe_patterns_are_refused_with_the_field_path(config: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(config)
    assert where in str(refused.value)


def test_linear_matcher_agrees_with_re_on_the_default_bot_patterns() -> None:
    import re

    from edgesplit.core.linear_regex import compile_linear
    from edgesplit.core.settings import DEFAULT_BOT_PATTERNS

    joined = "|".join(f"(?:{p})" for p in DEFAULT_BOT_PATTERNS)
    ours, theirs = compile_linear(joined, ignore_case=True), re.compile(joined, re.IGNORECASE)
    agents = [
        "Googlebot/2.1",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
        "robotic arm",
        "Slurp",
        "facebookexternalhit/1.1",
        "curl/8.0",
        "",
    ]
    for agent in agents:
        assert ours.search(agent) == bool(theirs.search(agent)), agent
