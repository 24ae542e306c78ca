"""The demo shows a split-URL experiment and an HTML-change experiment on pages its origin
renders the same for everyone."""

from __future__ import annotations

import json

import aiohttp

from edgesplit.demo import DEMO_CONFIG_PATH
from edgesplit.demo.run import DemoStack
from page_origin import BROWSER, visitor_in


async def test_the_demo_splits_plans_by_url_and_changes_about_at_the_edge() -> None:
    with open(DEMO_CONFIG_PATH, encoding="utf-8") as handle:
        config = json.load(handle)
    stack = DemoStack(port=0, origin_port=0, vendor_port=0)
    await stack.start()
    pages: dict[tuple[str, str], str] = {}
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            for path, experiment, variants in (
                ("/plans", "plans-split-url", ("control", "v2")),
                ("/about", "about-hero", ("control", "friendly")),
            ):
                for variant in variants:
                    visitor = visitor_in(config, experiment, variant, path)
                    headers = {**BROWSER, "Cookie": f"edgesplit_id={visitor}"}
                    async with client.get(stack.proxy_url + path, headers=headers) as response:
                        assert response.status == 200
                        pages[(path, variant)] = await response.text()
            async with client.get(f"http://127.0.0.1:{stack.origin_port}/about", headers=BROWSER) as direct:
                origin_about = await direct.text()
    finally:
        await stack.stop()
    assert "<h1>Plans</h1>" in pages[("/plans", "control")]
    assert "<h1>Plans, simplified</h1>" in pages[("/plans", "v2")]
    assert (
        "About the shop" in pages[("/about", "control")]
        and 'class="cta cta-friendly"' not in pages[("/about", "control")]
    )
    friendly = pages[("/about", "friendly")]
    assert "Hello! We are the shop." in friendly and "About the shop" not in friendly
    assert 'class="cta cta-friendly"' in friendly and "Find your plan" in friendly
    assert "About the shop" in origin_about  # the origin itself never changes its page
