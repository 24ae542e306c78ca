"""HTML changes for the self-hosted proxy, with selectolax (lexbor).

Why selectolax: lexbor is a spec-conformant HTML5 parser in C with its own CSS selector engine
(every selector of the subset in core/selectors.py, checked by the shared test table against
lol-html); rewriting a 100 KB page with ten changes costs 4x less CPU than lxml + cssselect
and over 40x less than html5lib (bench/bench_html.py, docs/html-experiments.md). It is not
streaming, so buffering is bounded: a page larger than ``pages.max_html_bytes`` passes on
unchanged; and each variant's rewrite of a cached page is memoised (``RewriteMemo``).

HTML fragments (replace, before, after, prepend, append and the bootstrap script) are inserted
verbatim, as lol-html inserts them: a marker text node goes into the tree and the fragment takes
its place in the serialised page. The marker holds a per-process secret, so no page can forge one;
it is ASCII, so an ASCII page stays a one-byte-per-character string through serialising, splicing
and encoding (a single non-ASCII marker made all three several times dearer).

Cost (docs/html-experiments.md): a variant's first rewrite is lexbor's parse and serialise plus
one walk of the tree for all the variant's selectors (``selector_batch``) and one pass splicing
the fragments in; no per-change walk and no per-fragment pass over the page.
"""

from __future__ import annotations

import hashlib
import html
import logging
import secrets
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..core.variant_actions import Change, with_class, without_class
from ..pipeline import ProxyResponse
from ..pipeline.page_changes import html_charset_ok
from .selector_batch import match_each

__all__ = ["RewriteMemo", "SelectolaxRewriter", "rewrite_html", "rewrite_page"]

_DECODERS = {"gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), "deflate": lambda: zlib.decompressobj()}
_SECRET = secrets.token_hex(8)
log = logging.getLogger("edgesplit.pages")


class _Fragments:
    """Marker text nodes standing for raw HTML fragments until serialisation.

    A marker is ``<prefix><index>.``: letters and digits, which the serialiser writes as they are
    in text and in raw-text elements alike."""

    PREFIX = f"edgesplit{_SECRET}x"

    def __init__(self) -> None:
        self.raw: list[str] = []

    def marker(self, fragment: str) -> str:
        self.raw.append(fragment)
        return f"{self.PREFIX}{len(self.raw) - 1}."

    def render(self, serialised: str) -> bytes:
        """``serialised`` in UTF-8 with each marker replaced by its fragment: one pass over the
        page and one copy of it (besides encoding it), however many fragments there are."""
        data = serialised.encode("utf-8")
        if not self.raw:
            return data
        prefix = self.PREFIX.encode("ascii")
        view = memoryview(data)
        out: list[bytes | memoryview] = []
        at = 0
        while (found := data.find(prefix, at)) >= 0:
            end = data.index(b".", found + len(prefix))
            out += (view[at:found], self.raw[int(data[found + len(prefix) : end])].encode("utf-8"))
            at = end + 1
        out.append(view[at:])
        return b"".join(out)


def _apply(node: LexborNode, change: Change, fragments: _Fragments) -> None:
    action = change.action
    if action == "set_text":
        node.inner_html = ""
        if node.tag in ("script", "style"):  # raw text: written escaped, as lol-html writes it
            node.insert_child(fragments.marker(html.escape(change.text, quote=False)))
        elif change.text:
            node.insert_child(change.text)
    elif action == "set_attribute":
        node.attrs[change.name] = change.text
    elif action == "remove_attribute":
        if change.name in node.attrs:
            del node.attrs[change.name]
    elif action == "add_class":
        node.attrs["class"] = with_class(node.attrs.get("class"), change.text)
    elif action == "remove_class":
        current = node.attrs.get("class")
        if current is not None:
            node.attrs["class"] = without_class(current, change.text)
    elif action == "remove":
        node.decompose()
    elif action == "replace":
        node.replace_with(fragments.marker(change.text))
    elif action == "before":
        node.insert_before(fragments.marker(change.text))
    elif action == "after":
        node.insert_after(fragments.marker(change.text))
    elif action == "append":
        node.insert_child(fragments.marker(change.text))
    elif action == "prepend":
        _prepend(node, fragments.marker(change.text))


def _prepend(node: LexborNode, marker: str) -> None:
    first = node.first_child
    if first is None:
        node.insert_child(marker)
    else:
        first.insert_before(marker)


def rewrite_html(text: str, changes: Sequence[Change], head_html: str | None = None) -> str:
    """The page with ``changes`` applied in order (every selector matched against the page as
    the origin sent it, like a streaming rewriter), and ``head_html`` first in ``<head>``."""
    return rewrite_page(text, changes, head_html).decode("utf-8")


def rewrite_page(page: str | bytes, changes: Sequence[Change], head_html: str | None = None) -> bytes:
    """``rewrite_html`` from and to UTF-8 (``page`` already known to be UTF-8, if bytes)."""
    tree = LexborHTMLParser(page)
    fragments = _Fragments()
    root = tree.root
    matched = match_each(root, [change.selector for change in changes]) if root is not None else {}
    gone: set[int] = set()  # removed or replaced: later changes to them do nothing (as at the edge)
    for change in changes:
        for node in matched.get(change.selector, ()):
            if node.mem_id in gone:
                continue
            _apply(node, change, fragments)
            if change.action in ("remove", "replace"):
                gone.add(node.mem_id)
    if head_html is not None and tree.head is not None:
        _prepend(tree.head, fragments.marker(head_html))
    return fragments.render(tree.html or "")


class RewriteMemo:
    """Rewritten pages by (origin page digest, changes, head script), within a byte budget.

    An HTML-change experiment serves one cached origin page to every visitor, so each variant
    asks for the very same rewrite again and again: parsing it once per variant, not once per
    request, is what keeps the per-request cost near a hash of the page."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[tuple[bytes, tuple[Change, ...], str | None], bytes] = OrderedDict()

    def rewrite(self, page: bytes, changes: Sequence[Change], head_html: str | None) -> bytes:
        """``page`` (UTF-8) with the changes applied; raises UnicodeDecodeError on other bytes."""
        key = (hashlib.sha256(page).digest(), tuple(changes), head_html)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        page.decode("utf-8")  # raises on bytes that are not UTF-8: the page then passes unchanged
        result = rewrite_page(page, changes, head_html)
        if len(result) <= self.max_bytes // 8:
            self._entries[key] = result
            self.size += len(result)
            while self.size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.size -= len(evicted)
        return result


async def _read_bounded(body: object, limit: int) -> tuple[list[bytes], bool]:
    """Chunks up to ``limit`` bytes; ``False`` when the body goes on past it."""
    chunks: list[bytes] = []
    size = 0
    if isinstance(body, (bytes, bytearray)):
        return [bytes(body)], len(body) <= limit
    iterator = body.__aiter__()  # type: ignore[attr-defined]
    while size <= limit:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return chunks, True
        chunks.append(bytes(chunk))
        size += len(chunk)
    return chunks, False


async def _replay(chunks: list[bytes], rest: object) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    async for chunk in rest:  # type: ignore[attr-defined]
        yield chunk


def _decode(data: bytes, encoding: str) -> bytes | None:
    if encoding in ("", "identity"):
        return data
    factory = _DECODERS.get(encoding)
    if factory is None:
        return None  # br, zstd, compress...: the proxy cannot decode it, so it passes unchanged
    try:
        decoder = factory()
        decoded = decoder.decompress(data)
        return decoded + decoder.flush() if decoder.eof else None
    except zlib.error:
        return None


class SelectolaxRewriter:
    """The pipeline's page-rewriter port for the self-hosted proxy (bounded buffering)."""

    def __init__(self, max_bytes: Callable[[], int]) -> None:
        self._max_bytes = max_bytes
        """Read per response: ``pages.max_html_bytes`` of the running config."""
        self.memo = RewriteMemo()

    async def rewrite(
        self, response: ProxyResponse, changes: Sequence[Change], head_html: str | None
    ) -> ProxyResponse | None:
        encoding = (response.headers.get("content-encoding") or "").strip().lower()
        if encoding not in ("", "identity", *_DECODERS) or not html_charset_ok(response.headers):
            return None
        body = response.body
        if body is None:
            return None
        limit = self._max_bytes()
        chunks, whole = await _read_bounded(body, limit)
        if not whole:
            response.body = _replay(chunks, body)
            return None
        raw = b"".join(chunks)
        decoded = _decode(raw, encoding)
        response.body = raw
        if decoded is None or len(decoded) > limit:
            return None
        try:
            response.body = self.memo.rewrite(decoded, changes, head_html)
        except UnicodeDecodeError:
            return None  # not UTF-8 after all: passed on as the origin sent it
        except Exception:  # logged: the page as the origin sent it rather than none
            log.exception("HTML changes failed; the page passes unchanged")
            return None
        response.headers.remove("content-encoding", "content-length")
        response.headers.set("content-length", str(len(response.body)))
        return response
