"""HTML changes in the Worker with Cloudflare's ``HTMLRewriter`` (lol-html, streaming: the page
is never buffered). Imports ``js``: runs only under Pyodide.

Each change becomes one ``.on(selector, {element})`` handler; the handlers are Python functions
proxied to JS (Pyodide frees the proxies when the rewriter lets go of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from ..core.variant_actions import Change, with_class, without_class
from ..pipeline import ProxyResponse
from ..pipeline.page_changes import html_charset_ok

try:  # Pyodide 0.28 maps JS null to a jsnull singleton
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover - older Pyodide maps null to None
    jsnull = None

__all__ = ["HtmlRewriterPages", "element_handler"]


def _options(values: dict[str, Any]) -> Any:
    return to_js(values, dict_converter=js.Object.fromEntries)


def _class_of(element: Any) -> str | None:
    value = element.getAttribute("class")
    return None if value is None or value is jsnull else str(value)


def element_handler(change: Change) -> Callable[[Any], None]:
    """The ``element`` callback doing ``change`` to a matched element."""
    action, text = change.action, change.text

    def handle(element: Any) -> None:
        if element.removed:  # removed or replaced by an earlier change: nothing more to do
            return
        if action == "set_text":
            element.setInnerContent(text)  # text content: lol-html escapes it
        elif action == "set_attribute":
            element.setAttribute(change.name, text)
        elif action == "remove_attribute":
            element.removeAttribute(change.name)
        elif action == "add_class":
            element.setAttribute("class", with_class(_class_of(element), text))
        elif action == "remove_class":
            current = _class_of(element)
            if current is not None:
                element.setAttribute("class", without_class(current, text))
        elif action == "remove":
            element.remove()
        else:  # replace, before, after, prepend, append: an HTML fragment, inserted verbatim
            getattr(element, action)(text, _options({"html": True}))

    return handle


class HtmlRewriterPages:
    """The pipeline's page-rewriter port on ``HTMLRewriter``."""

    async def rewrite(
        self, response: ProxyResponse, changes: Sequence[Change], head_html: str | None
    ) -> ProxyResponse | None:
        if not html_charset_ok(response.headers):
            return None
        body = response.body
        if isinstance(body, (bytes, bytearray)):
            body = to_js(bytes(body))
        rewriter = js.HTMLRewriter.new()
        for change in changes:
            rewriter = rewriter.on(
                change.selector, _options({"element": create_proxy(element_handler(change))})
            )
        if head_html is not None:
            first_in_head = element_handler(Change("head", "prepend", head_html))
            rewriter = rewriter.on("head", _options({"element": create_proxy(first_in_head)}))
        transformed = rewriter.transform(js.Response.new(body, _options({"status": response.status})))
        response.headers.remove("content-length")  # the runtime streams the new length
        return ProxyResponse(response.status, response.headers, transformed.body)
