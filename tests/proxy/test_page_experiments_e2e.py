"""Experiments the origin does not know about, through the self-hosted proxy over real HTTP:
a cross-origin rewrite through the aiohttp origin, HTML changes by the real rewriter, the
bootstrap. Rewrites, redirects and the one-fetch-per-page logic are tested on the pipeline
itself (tests/pipeline/test_flow_pages.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgesplit.core import verify_token
from edgesplit.pipeline.manifests import RECENT_MANIFESTS
from page_origin import BROWSER, NONCE, PageStack, page_stack
from servers import KEYRING


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[PageStack]:
    async for value in page_stack(tmp_path):
        yield value


@pytest.fixture
async def bootstrap_stack(tmp_path: Path) -> AsyncIterator[PageStack]:
    async for value in page_stack(tmp_path, bootstrap=True, max_html_bytes=4096):
        yield value


# ---------------------------------------------------------------- split URL: cross-origin rewrite


async def test_a_cross_origin_rewrite_goes_to_the_listed_host_without_the_visitors_credentials(
    stack: PageStack,
) -> None:
    response, body = await stack.get(
        "/far?x=1", "visitor-far-1", headers={"Cookie": "session=secret", "Authorization": "Bearer t"}
    )
    assert response.status == 200 and f"External {stack.external_host}".encode() in body
    seen = stack.external.seen["/external"]
    assert "Cookie" not in seen and "Authorization" not in seen
    assert seen["Host"] == stack.external_host
    assert stack.origin.fetches["/far"] == 0


# ---------------------------------------------------------------- HTML changes


async def test_html_changes_apply_to_the_variant_only(stack: PageStack) -> None:
    _, control = await stack.get("/landing", stack.visitor_in("hero", "control"))
    _, variant = await stack.get("/landing", stack.visitor_in("hero", "b"))
    assert b'<h1 class="hero">Control hero</h1>' in control and b"Old promo" in control
    assert b'<h1 class="hero">Variant hero</h1>' in variant and b"Control hero" not in variant
    assert b'class="cta cta-b"' in variant and b"Old promo" not in variant


@pytest.mark.parametrize("path", ["/data.json", "/brotli"])
async def test_other_types_and_undecodable_bodies_pass_unchanged(stack: PageStack, path: str) -> None:
    visitor = stack.visitor_in("hero", "b", path)
    async with stack.client.get(
        f"http://127.0.0.1:{stack.service.origin.base.rsplit(':', 1)[1]}{path}", headers=BROWSER
    ) as direct:
        original = await direct.read()
    response, body = await stack.get(path, visitor)
    assert body == original
    assert response.headers.get("Content-Encoding") == ("br" if path == "/brotli" else None)


async def test_a_legacy_charset_page_passes_unchanged(stack: PageStack) -> None:
    _, body = await stack.get("/latin1", stack.visitor_in("hero", "b", "/latin1"))
    assert "Caf\u00e9".encode("latin-1") in body and b"Variant hero" not in body


async def test_a_gzip_page_is_decoded_and_changed(stack: PageStack) -> None:
    response, body = await stack.get("/gzip", stack.visitor_in("hero", "b", "/gzip"))
    assert "Content-Encoding" not in response.headers
    assert b"Variant hero" in body and int(response.headers["Content-Length"]) == len(body)


async def test_a_page_over_the_buffer_bound_passes_unchanged(bootstrap_stack: PageStack) -> None:
    stack = bootstrap_stack
    visitor = stack.visitor_in("hero", "b", "/big")
    _, small = await stack.get("/big?size=1000", visitor)
    _, large = await stack.get("/big?size=20000", visitor)
    assert b"Variant hero" in small
    assert b"Control hero" in large and len(large) > 20_000 and large.endswith(b"</html>")


# ---------------------------------------------------------------- the no-flicker bootstrap

_SCRIPT = re.compile(rb"<script([^>]*)>(.*?)</script>", re.S)


def _bootstrap(body: bytes) -> tuple[str, str]:
    found = [
        (attrs.decode(), text.decode())
        for attrs, text in _SCRIPT.findall(body)
        if b"data-edgesplit-bootstrap" in attrs
    ]
    assert len(found) == 1, body[:300]
    return found[0]


async def test_the_bootstrap_is_first_in_head_and_carries_the_decision_cookies_assignments(
    bootstrap_stack: PageStack,
) -> None:
    response, body = await bootstrap_stack.get("/landing", bootstrap_stack.visitor_in("hero", "b"))
    assert re.search(rb"<head><script[^>]*data-edgesplit-bootstrap", body)
    attrs, text = _bootstrap(body)
    data = json.loads(re.match(r"window\.edgesplitBootstrap=(\{.*?\});\n", text).group(1))
    [cookie] = [c for c in response.headers.getall("Set-Cookie") if c.startswith("edgesplit_decision=")]
    claims = verify_token(
        cookie.split(";")[0].split("=", 1)[1], KEYRING, time.time(), manifests=RECENT_MANIFESTS
    ).claims
    assert data["assignments"] == dict(claims.assignments) == {"hero": "b"}
    assert 'data-track="/__edgesplit/track"' in attrs and "nonce" not in attrs
    assert "Content-Security-Policy" not in response.headers


async def test_the_bootstrap_uses_the_pages_nonce(bootstrap_stack: PageStack) -> None:
    response, body = await bootstrap_stack.get("/landing-nonce", bootstrap_stack.visitor_in("hero", "b"))
    attrs, _ = _bootstrap(body)
    assert f'nonce="{NONCE}"' in attrs
    assert (
        response.headers["Content-Security-Policy"]
        == f"default-src 'self'; script-src 'self' 'nonce-{NONCE}'"
    )


async def test_the_bootstrap_adds_its_hash_to_a_strict_policy(bootstrap_stack: PageStack) -> None:
    response, body = await bootstrap_stack.get(
        "/landing-strict", bootstrap_stack.visitor_in("hero", "control")
    )
    _, text = _bootstrap(body)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert response.headers["Content-Security-Policy"] == f"default-src 'self' 'sha256-{digest}'; img-src *"


async def test_the_bootstrap_is_never_put_into_non_html(bootstrap_stack: PageStack) -> None:
    _, body = await bootstrap_stack.get("/data.json", bootstrap_stack.visitor_in("hero", "b", "/data.json"))
    assert b"edgesplitBootstrap" not in body and b"data-edgesplit-bootstrap" not in body


async def test_a_head_request_does_not_advertise_the_origins_length_for_a_changed_page(
    stack: PageStack,
) -> None:
    visitor = stack.visitor_in("hero", "b")
    async with stack.client.head(
        stack.base + "/landing", headers={**BROWSER, "Cookie": f"edgesplit_id={visitor}"}
    ) as response:
        assert response.status == 200 and "Content-Length" not in response.headers
    async with stack.client.head(stack.base + "/pricing-nq", headers=BROWSER) as plain:
        assert plain.status == 200
