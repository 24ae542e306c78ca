"""Issue 13, finding 2, on the pipeline itself: a bot shares the all-control cache key with every
all-control human, so nothing a client sends may change a cached page without changing its key
(also runs inside Pyodide). Raw-HTTP cases (Host parsing, absolute-form targets, dot segments,
underscore header names) stay in tests/security/test_sec_cache_poisoning.py."""

from __future__ import annotations

from flow_support import make_flow

from edgesplit.pipeline.request_hygiene import TrustedUpstreams
from edgesplit.pipeline.testing import virtual_time

BOT = {"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"}


@virtual_time
async def test_client_x_forwarded_host_never_reaches_the_origin_or_the_cache() -> None:
    flow = make_flow()
    page = await flow.get("/page/cached", headers={**BOT, "x-forwarded-host": "evil.example"})
    assert page.status == 200 and dict(page.body["headers"])["x-forwarded-host"] == "shop.test"
    for n in range(6):  # humans, some of them in the bot's (all-control) vector
        human = await flow.get("/page/cached", f"human-{n:08d}")
        assert "evil.example" not in str(human.body)
    assert all("evil.example" not in str(sent.headers.items()) for sent in flow.origin.requests)


@virtual_time
async def test_a_trusted_upstream_keeps_its_forwarding_headers() -> None:
    flow = make_flow()
    flow.pipeline.trusted_upstreams = TrustedUpstreams(("192.0.2.0/24",))
    headers = {"x-forwarded-host": "shop.example", "x-forwarded-for": "203.0.113.9"}
    page = await flow.get("/nocache/x", headers=headers, client_ip="192.0.2.10")
    sent = dict(page.body["headers"])
    assert sent["x-forwarded-host"] == "shop.example"
    assert sent["x-forwarded-for"] == "203.0.113.9, 192.0.2.10"
    untrusted = await flow.get("/nocache/x", headers=headers, client_ip="198.51.100.1")
    assert dict(untrusted.body["headers"])["x-forwarded-host"] == "shop.test"


@virtual_time
async def test_ignored_query_parameters_do_not_reach_the_origin() -> None:
    flow = make_flow()  # utm_* and gclid are ignored by default
    await flow.get("/page/q?utm_source=%3Cscript%3E&gclid=x&keep=1", headers=BOT)
    assert flow.origin.requests[-1].url.partition("?")[2] == "keep=1"
    page = await flow.get("/page/q?keep=1", headers=BOT)
    assert page.headers.get("x-edgesplit-cache") == "HIT" and "script" not in str(page.body)


@virtual_time
async def test_semicolon_parameters_are_in_the_key_or_removed() -> None:
    flow = make_flow()  # utm_* and gclid are ignored by default
    await flow.get("/page/semi?utm_x=1;lang=de", headers=BOT)
    assert flow.origin.requests[-1].url.partition("?")[2] == "lang=de"
    page = await flow.get("/page/semi", headers=BOT)
    assert page.headers.get("x-edgesplit-cache") != "HIT"  # ?lang=de was in the key, not dropped
    assert flow.origin.requests[-1].url.partition("?")[2] == "" and flow.fetches["/page/semi"] == 2


@virtual_time
async def test_a_body_on_a_get_makes_it_uncacheable() -> None:
    flow = make_flow()
    page = await flow.get("/page/body", headers=BOT, body=b"<script>evil</script>")
    assert page.status == 200 and page.body["body"] == "<script>evil</script>"  # passed on, not cached
    assert "x-edgesplit-cache" not in page.headers
    clean = await flow.get("/page/body", headers=BOT)
    assert clean.headers.get("x-edgesplit-cache") == "MISS" and clean.body["body"] == ""
