"""Experiments the origin does not know about, in the Worker (Pyodide in Node, with lol-html as
HTMLRewriter): the shared HTML-change table, split URLs, redirects and the bootstrap."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from edge_support import BROWSER, ServerThread, Worker, get
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesplit.core import DecisionClaims, parse_config, verify_token
from edgesplit.pipeline.bootstrap import bootstrap_source, bootstrap_tag
from edgesplit.proxy.page_rewriter import rewrite_html
from html_table import CASES, FUZZ_CHANGES, case_bootstrap, case_experiments, changes_of, normalise
from page_origin import NONCE, PageOrigin, page_config, visitor_in
from servers import KEYRING, MANIFESTS, known


@pytest.fixture(scope="module")
def pages(start_worker: Any) -> Iterator[tuple[Worker, PageOrigin, dict[str, Any]]]:
    servers = ServerThread()
    external = PageOrigin()
    external_host = f"127.0.0.1:{servers.start(external.app())}"
    config = page_config(external_host, bootstrap=True)
    config["experiments"] += case_experiments()
    config["experiments"].append(
        {
            "key": "fuzz",
            "variants": [{"key": "control", "weight": 0}, {"key": "b", "changes": FUZZ_CHANGES}],
            "targeting": {"paths": ["/fuzz/*"]},
        }
    )
    origin = PageOrigin(documents={f"/case/{i:02d}": case["document"] for i, case in enumerate(CASES)})
    known(parse_config(config))  # the tests read the Worker's compact (es2) decisions
    with start_worker(origin, config, servers) as worker:
        yield worker, external, config


def fetch(
    worker: Worker, path: str, visitor: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    """One request, redirects not followed: (status, headers, raw body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    sent = {**BROWSER, **(headers or {})}
    if visitor is not None:
        sent["Cookie"] = f"edgesplit_id={visitor}" + (
            f"; {headers['Cookie']}" if headers and "Cookie" in headers else ""
        )
    request = urllib.request.Request(worker.base + path, headers=sent)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case["name"] for case in CASES])
def test_lol_html_and_the_self_hosted_rewriter_agree(
    pages: tuple[Worker, PageOrigin, dict], index: int
) -> None:
    worker, _, config = pages
    case = CASES[index]
    status, _, body = fetch(worker, f"/case/{index:02d}", f"visitor-table-{index}")
    assert status == 200
    at_the_edge = body.decode("utf-8")
    self_hosted = rewrite_html(case["document"], changes_of(case), case_bootstrap(index, config["version"]))
    assert normalise(at_the_edge) == normalise(self_hosted)


def test_a_rewrite_at_the_edge_keeps_the_address_and_is_cached_per_variant(pages: tuple) -> None:
    worker, _, _ = pages
    status, headers, body = fetch(worker, "/pricing?plan=pro", "visitor-edge-rw-1")
    assert status == 200 and b"Pricing page /pricing-b" in body and b'<p id="query">plan=pro</p>' in body
    _, again, _ = fetch(worker, "/pricing?plan=pro", "visitor-edge-rw-2")
    assert again["x-edgesplit-cache"] == "HIT"
    assert any("__edgesplit=split%3Ab" in key for key in worker.control("cache")["keys"])


def test_a_redirect_at_the_edge_is_private_and_not_for_bots(pages: tuple) -> None:
    worker, _, _ = pages
    status, headers, body = fetch(worker, "/pricing-old?plan=pro", "visitor-edge-rd-1")
    assert status == 302 and headers["Location"] == "/pricing-new?plan=pro"
    assert headers["Cache-Control"] == "private, no-store" and body == b""
    assert not any("/pricing-old" in key for key in worker.control("cache")["keys"])
    status, _, body = fetch(worker, "/pricing-old", headers={"User-Agent": "Googlebot/2.1"})
    assert status == 200 and b"Pricing page /pricing-old" in body
    status, _, _ = fetch(worker, "/pricing-new", "visitor-edge-rd-1")
    assert status == 200  # a redirect target is never redirected again


def test_a_cross_origin_rewrite_at_the_edge_drops_the_visitors_credentials(pages: tuple) -> None:
    worker, external, _ = pages
    status, _, body = fetch(worker, "/far", "visitor-edge-far", {"Cookie": "session=secret"})
    assert status == 200 and b"External 127.0.0.1:" in body
    assert "Cookie" not in external.seen["/external"]


def test_one_origin_fetch_serves_both_variants_at_the_edge(pages: tuple) -> None:
    worker, _, config = pages
    control, variant = visitor_in(config, "hero", "control"), visitor_in(config, "hero", "b")
    bodies = {v: fetch(worker, "/landing", v)[2] for v in (control, variant, control, variant)}
    assert worker.origin.fetches["/landing"] == 1
    assert b"Control hero" in bodies[control] and b"Variant hero" not in bodies[control]
    assert b"Variant hero" in bodies[variant] and b'class="cta cta-b"' in bodies[variant]
    assert b"Old promo" not in bodies[variant]


def _bootstrap(body: bytes) -> tuple[str, str]:
    [(attrs, text)] = [
        (a.decode(), t.decode())
        for a, t in re.findall(rb"<script([^>]*)>(.*?)</script>", body, re.S)
        if b"data-edgesplit-bootstrap" in a
    ]
    return attrs, text


def test_the_bootstrap_at_the_edge_honours_the_csp(pages: tuple) -> None:
    worker, _, config = pages
    visitor = visitor_in(config, "hero", "b")
    _, headers, body = fetch(worker, "/landing-nonce", visitor)
    attrs, text = _bootstrap(body)
    assert f'nonce="{NONCE}"' in attrs
    _, headers, body = fetch(worker, "/landing-strict", visitor)
    _, text = _bootstrap(body)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert headers["Content-Security-Policy"] == f"default-src 'self' 'sha256-{digest}'; img-src *"
    data = json.loads(re.match(r"window\.edgesplitBootstrap=(\{.*?\});\n", text).group(1))
    _, fresh, _ = get(worker, "/landing-strict", visitor)  # the same visitor's decision cookie
    [cookie] = [c for c in fresh["set-cookie-all"] if c.startswith("edgesplit_decision=")]
    claims = verify_token(
        cookie.split(";")[0].split("=", 1)[1], KEYRING, time.time(), manifests=MANIFESTS
    ).claims
    assert claims is not None and data["assignments"] == dict(claims.assignments) == {"hero": "b"}


def test_non_html_passes_unchanged_at_the_edge(pages: tuple) -> None:
    worker, _, config = pages
    status, headers, body = fetch(worker, "/data.json", visitor_in(config, "hero", "b", "/data.json"))
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert b"Control hero" in body and b"edgesplitBootstrap" not in body


_CLASSES = st.sampled_from(["", "a", "b", "a b", "b a c"])
_TEXT = st.text(alphabet="xyz &<>\"'é", max_size=6).map(html.escape)


def _attrs(draw: st.DrawFn) -> str:
    parts = []
    css_class = draw(_CLASSES)
    if css_class:
        parts.append(f'class="{css_class}"')
    if draw(st.booleans()):
        parts.append(f'id="i{draw(st.integers(0, 3))}"')
    if draw(st.booleans()):
        parts.append('data-k="v"')
    return (" " + " ".join(parts)) if parts else ""


@st.composite
def _phrasing(draw: st.DrawFn, depth: int = 0) -> str:
    """Inline content: text, and span/em/a elements (never nested links)."""
    items = []
    for _ in range(draw(st.integers(0, 3))):
        if depth < 2 and draw(st.booleans()):
            tag = draw(st.sampled_from(["span", "em", "a"] if depth == 0 else ["span", "em"]))
            items.append(f"<{tag}{_attrs(draw)}>{draw(_phrasing(depth + 1))}</{tag}>")
        else:
            items.append(draw(_TEXT))
    return "".join(items)


@st.composite
def _flow(draw: st.DrawFn, depth: int = 0) -> str:
    """Block content whose nesting HTML5 keeps as written (no implied end tags)."""
    items = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["p", "h1", "ul", "div", "section"] if depth < 3 else ["p", "h1"]))
        if kind in ("p", "h1"):
            items.append(f"<{kind}{_attrs(draw)}>{draw(_phrasing())}</{kind}>")
        elif kind == "ul":
            lis = "".join(
                f"<li{_attrs(draw)}>{draw(_phrasing())}</li>" for _ in range(draw(st.integers(0, 4)))
            )
            items.append(f"<ul{_attrs(draw)}>{lis}</ul>")
        else:
            items.append(f"<{kind}{_attrs(draw)}>{draw(_flow(depth + 1))}</{kind}>")
    return "".join(items)


def test_generated_pages_are_changed_alike_by_lol_html_and_lexbor(
    pages: tuple[Worker, PageOrigin, dict],
) -> None:
    """Differential fuzz: well-formed pages the generator makes, the same ten changes."""
    worker, _, config = pages
    claims = DecisionClaims("", {"fuzz": "b"}, config["version"], 0, 0)
    head = bootstrap_tag(
        bootstrap_source(claims), None, "/__edgesplit", "edgesplit_decision", "edgesplit_pin"
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=_flow())
    def check(body: str) -> None:
        document = f"<!DOCTYPE html><html><head><title>f</title></head><body>{body}</body></html>"
        path = f"/fuzz/{hashlib.sha256(document.encode()).hexdigest()[:16]}"  # its own cache key
        worker.origin.documents[path] = document
        status, _, out = fetch(worker, path, "visitor-fuzz-1")
        assert status == 200
        expected = rewrite_html(document, changes_of({"changes": FUZZ_CHANGES}), head)
        assert normalise(out.decode("utf-8")) == normalise(expected)

    check()
