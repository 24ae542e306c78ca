"""OFREP over HTTP under the admin prefix: ``POST {prefix}/ofrep/v1/evaluate/flags/{key}`` and
the bulk ``POST {prefix}/ofrep/v1/evaluate/flags``. See docs/ofrep.md.

An evaluation is not an exposure: nothing is sent to vendors or counted. Every answer carries
the signed decision token (``metadata.decisionToken``) with which the client reports exposures
and conversions to ``{prefix}/track``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from ..core import ConfigHolder, DecisionClaims, Keyring, assign, sign_token
from ..core.ofrep import OfrepError, bulk_results, evaluation_context, flag_result, resolve_flag_key
from ..ports import Clock
from ..ports.http import Headers, ProxyRequest, ProxyResponse, plain_response
from ..ports.metrics import Metrics
from .ofrep_access import (
    CORS_ALLOW_HEADERS,
    CORS_MAX_AGE,
    RateLimiter,
    cors_headers,
    find_client,
    presented_key,
)

__all__ = ["OfrepRoutes", "OFREP_PREFIX"]

OFREP_PREFIX = "/ofrep/v1/evaluate/flags"
MAX_BODY = 16 * 1024
_LIMITER = RateLimiter()
"""One per process or isolate: the edge builds a pipeline per request, the limits outlive it."""


def _json(status: int, doc: Any, extra: list[tuple[str, str]] | None = None) -> ProxyResponse:
    response = plain_response(status, json.dumps(doc, separators=(",", ":")), "application/json")
    for name, value in extra or []:
        response.headers.set(name, value)
    return response


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


class OfrepRoutes:
    def __init__(self, *, config: ConfigHolder, keyring: Keyring, clock: Clock, metrics: Metrics) -> None:
        self.config = config
        self.keyring = keyring
        self.clock = clock
        self.metrics = metrics

    async def handle(self, request: ProxyRequest, subpath: str) -> ProxyResponse:
        settings = self.config.current.settings.ofrep
        if not settings.active:
            return plain_response(404, "404 Not Found: OFREP is off (see docs/ofrep.md)\n")
        if subpath != OFREP_PREFIX and not subpath.startswith(OFREP_PREFIX + "/"):
            return plain_response(404, "404 Not Found\n")
        origin = request.headers.get("origin")
        cors = cors_headers(settings, origin)
        if origin is not None and cors is None:
            self.metrics.inc("edgesplit_ofrep_requests_total", kind="-", outcome="origin_refused")
            return _json(403, {"errorDetails": "this Origin is not on ofrep.cors_origins"})
        if request.method == "OPTIONS":
            return self._preflight(cors)
        response = await self._evaluate(request, subpath)
        for name, value in cors or []:
            response.headers.set(name, value)
        return response

    def with_cors(
        self, handler: Callable[[ProxyRequest], Awaitable[ProxyResponse]]
    ) -> Callable[[ProxyRequest], Awaitable[ProxyResponse]]:
        """``handler`` (the track endpoint) answering preflights and carrying CORS headers for the
        OFREP origins, so a browser app can report exposures and conversions; other requests
        are handled exactly as before (a same-origin page's ``Origin`` is not refused here)."""

        async def handle(request: ProxyRequest) -> ProxyResponse:
            settings = self.config.current.settings.ofrep
            cors = cors_headers(settings, request.headers.get("origin")) if settings.active else None
            if cors is not None and request.method == "OPTIONS":
                return self._preflight(cors)
            response = await handler(request)
            for name, value in cors or []:
                response.headers.set(name, value)
            return response

        return handle

    @staticmethod
    def _preflight(cors: list[tuple[str, str]] | None) -> ProxyResponse:
        response = ProxyResponse(204, Headers([("cache-control", "no-store"), ("content-length", "0")]), b"")
        for name, value in cors or []:
            response.headers.set(name, value)
        if cors is not None:
            response.headers.set("access-control-allow-methods", "POST, OPTIONS")
            response.headers.set("access-control-allow-headers", CORS_ALLOW_HEADERS)
            response.headers.set("access-control-max-age", CORS_MAX_AGE)
        return response

    async def _evaluate(self, request: ProxyRequest, subpath: str) -> ProxyResponse:
        config = self.config.current
        settings = config.settings.ofrep
        if request.method != "POST":
            return _json(405, {"errorDetails": "POST an evaluation request"}, [("allow", "POST, OPTIONS")])
        client = find_client(settings, presented_key(request.headers))
        if client is None:
            self.metrics.inc("edgesplit_ofrep_requests_total", kind="-", outcome="unauthorized")
            return _json(
                401, {"errorDetails": "an OFREP API key is required"}, [("www-authenticate", "Bearer")]
            )
        now = self.clock.now()
        _LIMITER.forget_others(settings)
        wait = _LIMITER.take(client, self.clock.monotonic())
        if wait:
            self.metrics.inc("edgesplit_ofrep_requests_total", kind=client.kind, outcome="rate_limited")
            return _json(429, {"errorDetails": "rate limited"}, [("retry-after", str(int(wait)))])
        flag_key = unquote(subpath[len(OFREP_PREFIX) + 1 :]) if subpath != OFREP_PREFIX else None
        body = await request.read_body(MAX_BODY) if request.read_body is not None else b""
        try:
            if body is None:
                raise OfrepError("PARSE_ERROR", f"the body is larger than {MAX_BODY} bytes")
            try:
                document = json.loads(body.decode("utf-8")) if body.strip() else {}
            except (UnicodeDecodeError, ValueError, RecursionError):
                raise OfrepError("PARSE_ERROR", "the body is not JSON") from None
            visitor_id, attributes = evaluation_context(document)
        except OfrepError as error:
            self.metrics.inc("edgesplit_ofrep_requests_total", kind=client.kind, outcome=error.code.lower())
            failure = {"errorCode": error.code, "errorDetails": error.details}
            return _json(400, failure if flag_key is None else {"key": flag_key, **failure})
        assignments = assign(config, visitor_id, attributes)
        claims = DecisionClaims.from_assignments(
            visitor_id, assignments, config.version, now, config.settings.decision.cookie_ttl_seconds
        )
        metadata = {"configVersion": config.version, "decisionToken": sign_token(claims, self.keyring)}
        self.metrics.inc("edgesplit_ofrep_requests_total", kind=client.kind, outcome="evaluated")
        if flag_key is None:
            return self._bulk(request, config, assignments, metadata, document, now)
        found = resolve_flag_key(config, flag_key)
        if found is None:
            return _json(
                404, {"key": flag_key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": f"no flag {flag_key!r}"}
            )
        experiment, boolean = found
        return _json(200, flag_result(experiment, assignments[experiment.key], boolean, metadata))

    def _bulk(
        self,
        request: ProxyRequest,
        config: Any,
        assignments: Any,
        metadata: dict[str, Any],
        document: Any,
        now: float,
    ) -> ProxyResponse:
        flags = bulk_results(config, assignments, metadata)
        # The ETag names what the answer says, not the token's timestamps; it turns over every
        # half token lifetime, so a client polling with If-None-Match never keeps an expired token.
        epoch = int(now // max(1, config.settings.decision.cookie_ttl_seconds // 2))
        material = json.dumps(
            [
                [{k: v for k, v in f.items() if k != "metadata"} for f in flags],
                document,
                epoch,
                config.version,
                self.keyring.signer.id,
            ],
            sort_keys=True,
            separators=(",", ":"),
        )
        etag = (
            '"' + hashlib.blake2s(material.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() + '"'
        )
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return ProxyResponse(
                304, Headers([("etag", etag), ("cache-control", "no-store"), ("content-length", "0")]), b""
            )
        return _json(200, {"flags": flags}, [("etag", etag)])
