"""The pipeline's ports on workerd's APIs. Imports ``js``: runs only under Pyodide.

Nothing here decides anything; each function converts or forwards. No JS object is held at
module level (workerd snapshots module state at deploy time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import js
from pyodide.ffi import JsException, to_js
from workers import Response

from ..pipeline import BackgroundPort, Headers, OriginTimeout, OriginUnavailable, ProxyRequest, ProxyResponse
from ..queue.sharding import shard_for, shard_name
from ..vendors import SendResult, VendorRequest, retry_after_seconds

try:  # Pyodide 0.28 maps JS null to a jsnull singleton
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover - older Pyodide maps null to None
    jsnull = None

__all__ = [
    "DurableObjectQueue",
    "EdgeCache",
    "FetchOrigin",
    "FetchSender",
    "headers_from_js",
    "to_proxy_request",
    "to_workers_response",
]

ORIGINAL_CACHE_CONTROL = "x-edgesplit-cache-control"


def _missing(value: Any) -> bool:
    return value is None or value is jsnull


def _js_object(values: dict[str, Any]) -> Any:
    return to_js(values, dict_converter=js.Object.fromEntries)


def headers_from_js(js_headers: Any) -> Headers:
    return Headers((str(entry[0]), str(entry[1])) for entry in js_headers.entries())


def js_headers(headers: Headers) -> Any:
    # One conversion of the whole list, not one JS call per header (each crossing costs).
    return js.Headers.new(to_js([[name, value] for name, value in headers]))


def _platform(js_request: Any) -> dict[str, Any]:
    cf = getattr(js_request, "cf", None)
    if _missing(cf):
        return {}
    platform: dict[str, Any] = {}
    country = getattr(cf, "country", None)
    if isinstance(country, str):
        platform["country"] = country
    bot = getattr(cf, "botManagement", None)
    if not _missing(bot):
        score = getattr(bot, "score", None)
        if isinstance(score, int):
            platform["bot_score"] = score
        if getattr(bot, "verifiedBot", None) is True:
            platform["verified_bot"] = True
    return platform


def to_proxy_request(request: Any) -> ProxyRequest:
    js_request = getattr(request, "js_object", request)
    headers = headers_from_js(js_request.headers)
    body = js_request.body

    async def read_body(limit: int) -> bytes | None:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        data = bytes((await js_request.arrayBuffer()).to_bytes())
        return None if len(data) > limit else data

    return ProxyRequest(
        str(js_request.method),
        str(js_request.url),
        headers,
        None if _missing(body) else body,
        headers.get("cf-connecting-ip"),
        _platform(js_request),
        read_body,
    )


def to_workers_response(response: ProxyResponse) -> Response:
    """The SDK's Response around a JS Response built with one conversion of status and headers
    (repeated Set-Cookie kept): the SDK's own keyword form costs several JS calls per header."""
    body = None if response.status in (101, 204, 205, 304) else response.body
    if isinstance(body, (bytes, bytearray)):
        body = to_js(bytes(body))
    init = _js_object(
        {"status": response.status, "headers": [[name, value] for name, value in response.headers]}
    )
    return Response(js.Response.new(body, init))


class FetchOrigin:
    """The origin through the runtime's own ``fetch``: bodies stay JS streams end to end."""

    def __init__(self, base_url: str | None, timeout_seconds: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout_seconds = timeout_seconds

    def _target(self, url: str) -> str:
        if self.base_url is None:
            return url
        path_start = url.find("/", url.find("//") + 2)
        return self.base_url + (url[path_start:] if path_start >= 0 else "/")

    async def fetch(self, request: ProxyRequest) -> ProxyResponse:
        headers = request.headers.copy()
        headers.remove("host", "content-length")
        controller = js.AbortController.new()
        init: dict[str, Any] = {
            "method": request.method,
            "headers": js_headers(headers),
            "redirect": "manual",
            "signal": controller.signal,
        }
        if request.body is not None and request.method not in ("GET", "HEAD"):
            init["body"] = request.body
            init["duplex"] = "half"
        target = request.origin_url or self._target(request.url)
        try:
            response = await asyncio.wait_for(js.fetch(target, _js_object(init)), self.timeout_seconds)
        except TimeoutError as exc:
            controller.abort()
            raise OriginTimeout(f"{request.method} {target}: no answer in time") from exc
        except JsException as exc:
            raise OriginUnavailable(f"{request.method} {target}: {exc}") from exc
        body = response.body
        return ProxyResponse(
            int(response.status), headers_from_js(response.headers), None if _missing(body) else body
        )


class EdgeCache:
    """``caches.default`` with per-variant keys. The cached copy carries an explicit lifetime;
    the origin's own Cache-Control travels beside it and is restored on a hit."""

    def __init__(
        self, background: BackgroundPort, on_error: Callable[[str, BaseException], None] | None = None
    ) -> None:
        self.background = background
        self.on_error = on_error

    async def lookup(self, key: str, request: ProxyRequest) -> ProxyResponse | None:
        match = await js.caches.default.match(key)
        if _missing(match):
            return None
        headers = headers_from_js(match.headers)
        original = headers.get(ORIGINAL_CACHE_CONTROL)
        headers.remove(ORIGINAL_CACHE_CONTROL)
        if original is not None:
            headers.set("cache-control", original)
        body = match.body
        return ProxyResponse(int(match.status), headers, None if _missing(body) else body)

    def store(
        self,
        key: str,
        request: ProxyRequest,
        response: ProxyResponse,
        ttl: int,
        stored: Callable[[], None] | None = None,
    ) -> ProxyResponse:
        body = response.body
        if body is not None and not isinstance(body, (bytes, bytearray)):
            to_client, to_cache = body.tee()
            response.body = to_client
        else:
            to_cache = to_js(bytes(body)) if body else None
        headers = response.headers.copy()
        original = headers.get("cache-control")
        if original is not None:
            headers.set(ORIGINAL_CACHE_CONTROL, original)
        headers.set("cache-control", f"public, max-age={ttl}")
        cached = js.Response.new(
            to_cache, _js_object({"status": response.status, "headers": js_headers(headers)})
        )
        self.background.defer(self._put(key, cached, stored))
        return response

    async def _put(self, key: str, cached: Any, stored: Callable[[], None] | None) -> None:
        """The write happens after the response: its failure is counted, never the visitor's.
        The put completes once the copy's stream has been read to its end."""
        try:
            await js.caches.default.put(key, cached)
        except Exception as exc:  # noqa: BLE001
            if self.on_error is not None:
                self.on_error("cache_store", exc)
        finally:
            if stored is not None:
                stored()


class FetchSender:
    """Delivers a VendorRequest with the runtime's fetch; failures become SendResults."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds

    async def __call__(self, request: VendorRequest) -> SendResult:
        init = _js_object(
            {"method": "POST", "headers": js_headers(Headers(request.headers)), "body": to_js(request.body)}
        )
        try:
            response = await asyncio.wait_for(js.fetch(request.url, init), self.timeout_seconds)
            text = str(await response.text())[:300]
        except TimeoutError:
            return SendResult(None, None, "timeout")
        except JsException as exc:
            return SendResult(None, None, str(exc)[:300])
        retry_after = retry_after_seconds(response.headers.get("retry-after"), time.time())
        return SendResult(int(response.status), retry_after, text)


class DurableObjectQueue:
    """The queue port on Durable Object shards: one RPC per batch, lists and dicts only
    (Workers RPC refuses tuples and custom objects). The visitor picks the shard."""

    def __init__(self, namespace: Any, shards: int) -> None:
        self.namespace = namespace
        self.shards = shards

    def _stub(self, events: Sequence[dict[str, Any]]) -> Any:
        shard = shard_for(str(events[0].get("visitor_id", "")), self.shards)
        return self.namespace.get(self.namespace.idFromName(shard_name(shard)))

    async def enqueue(self, vendor: str, events: list[dict[str, Any]]) -> None:
        if events:
            await self._stub(events).enqueue(vendor, [dict(event) for event in events])

    async def dead_letter(self, vendor: str, events: list[dict[str, Any]], reason: str) -> None:
        if events:
            await self._stub(events).dead_letter(vendor, [dict(event) for event in events], reason)
