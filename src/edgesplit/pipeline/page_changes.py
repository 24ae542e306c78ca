"""The response side of variants the origin does not know about: each variant's HTML changes
and the optional bootstrap script, applied per request (after the cache, so one cached origin
page serves every variant of an HTML-change experiment).

Only successful ``text/html`` responses to GET are touched. The shells supply the rewriter:
``HTMLRewriter`` (lol-html, streaming) in the Worker, selectolax (bounded buffering) self-hosted;
a rewriter answers ``None`` when it leaves the page as it was (too large, undecodable).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from ..core.variant_actions import Change
from ..ports.http import Headers, ProxyResponse
from ..ports.metrics import Metrics
from .bootstrap import allow_inline_script, bootstrap_source, bootstrap_tag
from .decide import Decision
from .page_plan import PagePlan

__all__ = ["PageRewriterPort", "apply_page_changes", "html_charset_ok", "is_html"]

_UTF8 = ("utf-8", "utf8", "us-ascii", "ascii")
log = logging.getLogger("edgesplit.pages")


class PageRewriterPort(Protocol):
    async def rewrite(
        self, response: ProxyResponse, changes: Sequence[Change], head_html: str | None
    ) -> ProxyResponse | None:
        """Apply ``changes`` and put ``head_html`` first in ``<head>``; ``None`` if it cannot
        (the response must then still be sendable as it was)."""
        ...


def is_html(headers: Headers) -> bool:
    media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return media_type == "text/html"


def html_charset_ok(headers: Headers) -> bool:
    """UTF-8 (or unlabelled) pages only: a rewriter must not re-encode a legacy charset."""
    for parameter in (headers.get("content-type") or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            return False
    return True


def _head_html(response: ProxyResponse, decision: Decision, settings: Any) -> str | None:
    if not settings.pages.bootstrap or decision.claims is None or not decision.claims.assignments:
        return None
    source = bootstrap_source(decision.claims)
    nonce = allow_inline_script(response.headers, source)
    return bootstrap_tag(
        source, nonce, settings.admin.path_prefix, settings.decision.cookie, settings.decision.pin_cookie
    )


async def apply_page_changes(
    rewriter: PageRewriterPort | None,
    response: ProxyResponse,
    plan: PagePlan,
    decision: Decision,
    settings: Any,
    method: str,
    metrics: Metrics,
) -> ProxyResponse:
    if plan.shared and response.headers.get("x-edgesplit-cache") == "HIT":
        # One cached origin page served a variant it was not fetched for: the fetch saved.
        metrics.inc("edgesplit_cache_shared_hits_total")
    if method == "HEAD" and (plan.changes or settings.pages.bootstrap) and is_html(response.headers):
        # A GET would be changed: the origin's length and validators do not describe it.
        response.headers.remove("content-length", "etag", "content-md5")
    if (
        rewriter is None
        or method != "GET"
        or not 200 <= response.status < 300
        or response.body is None
        or not is_html(response.headers)
    ):
        return response
    if not plan.changes and not settings.pages.bootstrap:
        return response
    head_html = _head_html(response, decision, settings)
    if not plan.changes and head_html is None:
        return response
    try:
        rewritten = await rewriter.rewrite(response, plan.changes, head_html)
    except Exception:  # logged: the origin's page rather than an error
        log.exception("page changes failed; the page passes unchanged")
        metrics.inc("edgesplit_page_changes_total", result="failed")
        return response
    if rewritten is None:
        metrics.inc("edgesplit_page_changes_total", result="passed")
        return response
    rewritten.headers.remove("etag", "content-md5")  # the bytes are no longer the origin's
    metrics.inc("edgesplit_page_changes_total", result="applied")
    return rewritten
