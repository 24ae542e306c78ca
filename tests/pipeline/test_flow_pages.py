"""Experiments the origin does not know about, through ``Pipeline.handle`` on the fakes:
split-URL rewrites (same site and cross-origin), redirects, and HTML changes handed to the page
rewriter port after the cache (also runs inside Pyodide). What the real rewriters do to the HTML
is tested in tests/proxy (selectolax) and tests/edge (lol-html)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
from flow_support import Flow, make_flow

from edgesplit.pipeline import ProxyRequest, ProxyResponse
from edgesplit.pipeline.testing import read, respond, run, virtual_time
from shared_documents import page_config, visitor_in

EXTERNAL = "partner.test"
HTML = "text/html; charset=utf-8"


def member(experiment: str, variant: str, path: str) -> str:
    return visitor_in(page_config(EXTERNAL), experiment, variant, path)


class MarkingRewriter:
    """A page rewriter port that keeps the contract (a new response, or None to leave the page)
    and marks the page with the changes it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str | None]] = []

    async def rewrite(
        self, response: ProxyResponse, changes: Sequence[Any], head_html: str | None
    ) -> ProxyResponse | None:
        self.calls.append((len(changes), head_html))
        body = await read(response.body)
        headers = response.headers.copy()
        headers.remove("content-length")
        return ProxyResponse(response.status, headers, body + f"<!-- {len(changes)} changes -->".encode())


async def page_origin(message: ProxyRequest) -> ProxyResponse:
    """Knows nothing about experiments: renders its path, query, host and whether it heard a decision."""
    heard = "yes" if "x-edgesplit-decision" in message.headers else "no"
    query = message.url.partition("?")[2]
    target = message.origin_url or message.url
    body = f"<html><body><h1 class=hero>Page {target.split('://', 1)[1]}</h1><p>{query}</p><p>{heard}</p>"
    return respond(200, body.encode(), {"content-type": HTML, "cache-control": "public, max-age=60"})


def pages_flow(**parts: Any) -> Flow:
    return make_flow(page_config(EXTERNAL), handler=page_origin, **parts)


@virtual_time
async def test_a_rewrite_fetches_the_variant_path_under_the_visitors_address() -> None:
    flow = pages_flow()
    page = await flow.get("/pricing?plan=pro&utm_source=x", "visitor-rewrite-1")
    assert page.status == 200
    assert [sent.path for sent in flow.origin.requests] == ["/pricing-b"]
    assert b"<p>plan=pro</p>" in page.body  # kept, less the parameters the cache ignores
    assert b"<p>yes</p>" in page.body  # the origin still hears the decision
    assert "private" in (page.headers.get("cache-control") or "")  # never shared downstream


@virtual_time
async def test_a_rewrite_can_drop_the_query() -> None:
    flow = pages_flow()
    page = await flow.get("/pricing-nq?plan=pro", "visitor-rewrite-2")
    assert flow.origin.paths() == ["/pricing-c"] and b"<p></p>" in page.body


@virtual_time
async def test_rewritten_pages_are_cached_per_variant_and_bots_get_the_control() -> None:
    flow = pages_flow()
    first = await flow.get("/pricing", "visitor-rewrite-3")
    second = await flow.get("/pricing", "visitor-rewrite-4")
    assert (
        first.headers.get("x-edgesplit-cache") == "MISS" and second.headers.get("x-edgesplit-cache") == "HIT"
    )
    assert b"/pricing-b" in second.body and flow.origin.paths() == ["/pricing-b"]
    bot = await flow.get("/pricing", headers={"user-agent": "Googlebot/2.1"})
    assert b"shop.test/pricing<" in bot.body  # the page at its own URL
    assert bot.headers.get("x-edgesplit-cache") == "MISS"  # the control's copy is not the variant's


@virtual_time
async def test_a_cross_origin_rewrite_goes_to_the_listed_host_without_the_visitors_credentials() -> None:
    flow = pages_flow()
    page = await flow.get(
        "/far?x=1", "visitor-far-1", headers={"cookie": "session=secret", "authorization": "Bearer t"}
    )
    assert page.status == 200 and f"Page {EXTERNAL}/external".encode() in page.body
    [sent] = flow.origin.requests
    assert sent.origin_url == f"http://{EXTERNAL}/external?x=1"
    assert "cookie" not in sent.headers and "authorization" not in sent.headers
    assert sent.headers.get("host") == EXTERNAL


@virtual_time
async def test_a_redirect_keeps_the_query_is_never_stored_and_sets_the_cookies() -> None:
    flow = pages_flow()
    page = await flow.get("/pricing-old?plan=pro")
    assert page.status == 302 and page.body == b""
    assert page.headers.get("location") == "/pricing-new?plan=pro"
    assert page.headers.get("cache-control") == "private, no-store"
    assert any(c.startswith("edgesplit_id=") for c in page.headers.get_all("set-cookie"))
    again = await flow.get("/pricing-old?plan=pro", "visitor-redirect-2")
    assert again.status == 302 and "x-edgesplit-cache" not in again.headers  # not from a cache
    assert flow.origin.requests == [] and flow.cache.lookups == []
    assert flow.metric("edgesplit_requests_total", outcome="redirect") == 2


@virtual_time
async def test_a_redirect_target_is_never_redirected_again() -> None:
    flow = pages_flow()
    page = await flow.get("/pricing-new", "visitor-redirect-3")  # targeted by 'move' too
    assert page.status == 200 and b"shop.test/pricing-new" in page.body


@pytest.mark.parametrize(
    "headers",
    [
        {"user-agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"},
        {"sec-purpose": "prefetch"},
        {"sec-purpose": "prefetch;prerender"},
        {"purpose": "prefetch"},
        {"x-moz": "prefetch"},
    ],
)
def test_bots_and_prefetches_are_not_redirected(headers: dict[str, str]) -> None:
    flow = pages_flow()
    page = run(flow.get("/pricing-old", "visitor-redirect-4", headers=headers))
    assert page.status == 200 and b"shop.test/pricing-old" in page.body


@virtual_time
async def test_html_changes_are_applied_after_the_cache_to_the_variant_only() -> None:
    rewriter = MarkingRewriter()
    flow = pages_flow(page_rewriter=rewriter)
    control = await flow.get("/landing", member("hero", "control", "/landing"))
    variant = await flow.get("/landing", member("hero", "b", "/landing"))
    assert b"changes" not in control.body and variant.body.endswith(b"<!-- 3 changes -->")
    assert variant.headers.get("x-edgesplit-cache") == "HIT"  # one origin page for both variants
    assert flow.origin.paths() == ["/landing"] and rewriter.calls == [(3, None)]
    assert flow.metric("edgesplit_cache_shared_hits_total") == 1
    assert flow.metric("edgesplit_page_changes_total", result="applied") == 1


@virtual_time
async def test_one_origin_fetch_serves_every_variant_of_an_html_change_experiment() -> None:
    flow = pages_flow(page_rewriter=MarkingRewriter())
    visitors = [member("hero", v, "/landing") for v in ("control", "b")]
    shared_hits = rendered_hits = 0
    for _ in range(5):
        for visitor in visitors:
            shared = await flow.get("/landing", visitor)
            rendered = await flow.get("/rendered", visitor)
            shared_hits += shared.headers.get("x-edgesplit-cache") == "HIT"
            rendered_hits += rendered.headers.get("x-edgesplit-cache") == "HIT"
    rendered_variants = {flow.expected(v, "/rendered")["rendered"] for v in visitors}
    assert flow.origin.paths().count("/landing") == 1  # one origin fetch for both variants
    assert flow.origin.paths().count("/rendered") == len(rendered_variants)  # one per variant
    assert (shared_hits, rendered_hits) == (9, 10 - len(rendered_variants))
    assert flow.metric("edgesplit_cache_shared_hits_total") >= 4  # hits served to the other variant


@virtual_time
async def test_the_origin_is_not_told_about_an_html_change_experiment() -> None:
    flow = pages_flow()
    await flow.get("/landing", member("hero", "b", "/landing"))
    result = flow.verify(flow.origin.requests[-1].headers.get("x-edgesplit-decision"))
    assert result.ok and dict(result.claims.assignments) == {}  # it could vary on it otherwise
    await flow.get("/rendered", member("rendered", "b", "/rendered"))
    result = flow.verify(flow.origin.requests[-1].headers.get("x-edgesplit-decision"))
    assert result.ok and dict(result.claims.assignments) == {"rendered": "b"}


@virtual_time
async def test_a_failing_rewriter_serves_the_origins_page(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        async def rewrite(self, response: object, changes: object, head_html: object) -> None:
            raise RuntimeError("rewriter bug")

    caplog.set_level(logging.ERROR)
    flow = pages_flow(page_rewriter=Broken())
    page = await flow.get("/landing", member("hero", "b", "/landing"))
    assert page.status == 200 and b"Page shop.test/landing" in page.body
    assert flow.metric("edgesplit_page_changes_total", result="failed") == 1


@virtual_time
async def test_a_head_request_does_not_advertise_the_origins_length_for_a_changed_page() -> None:
    async def sized(message: ProxyRequest) -> ProxyResponse:
        response = await page_origin(message)
        response.headers.set("content-length", "123")
        response.headers.set("etag", '"origin"')
        return response

    flow = make_flow(page_config(EXTERNAL), handler=sized, page_rewriter=MarkingRewriter())
    head = await flow.get("/landing", member("hero", "b", "/landing"), method="HEAD")
    assert head.status == 200 and "content-length" not in head.headers and "etag" not in head.headers
    plain = await flow.get("/pricing-nq", method="HEAD")
    assert plain.status == 200 and plain.headers.get("content-length") == "123"
