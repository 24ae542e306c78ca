"""The request flow both shells run: decide, forward, cache per variant, answer.

    client -> strip forged decisions -> decide (identity, policy, assign, sign)
           -> per-variant cache lookup -> origin (streamed) -> store if shareable
           -> answer (cookie, private cache-control for variant pages) -> exposures to outbox

Every failure of edgesplit itself is served open: the request still reaches the origin, with no
decision, and the failure is counted and logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..core import ConfigHolder, Keyring
from ..ports import OriginTimeout, OriginUnavailable, OutboxPort
from ..ports.http import Headers, ProxyRequest, ProxyResponse, plain_response, strip_hop_by_hop
from .admin import AdminRoutes
from .attributes import RequestAttributes
from .cache_policy import cache_key, client_cache_control, shared_ttl
from .decide import Decision
from .ofrep import OfrepRoutes
from .page_changes import apply_page_changes
from .page_plan import PagePlan, plan_page
from .parts import PipelineOptions, PipelinePorts, Shared
from .request_decision import DecisionSteps, client_input, decision_cookies
from .request_hygiene import TrustedUpstreams, sanitize_request
from .trace import TRACE_HEADER, add_trace, trace_allowed
from .track_endpoint import TrackEndpoint

__all__ = ["Pipeline"]

log = logging.getLogger("edgesplit.pipeline")
CACHE_STATUS_HEADER = "x-edgesplit-cache"


class Pipeline:
    def __init__(
        self,
        *,
        config: ConfigHolder,
        keyring: Keyring,
        ports: PipelinePorts,
        shared: Shared,
        options: PipelineOptions | None = None,
    ) -> None:
        """``shared`` is the process's (the isolate's) and outlives this pipeline; ``ports`` and
        ``options`` are the shell's (see ``parts``)."""
        options = options or PipelineOptions()
        self.config = config
        self.origin = ports.origin
        self.clock = shared.clock
        self.new_id = shared.new_id
        self.background = ports.background
        self.cache = ports.cache
        self.metrics = shared.metrics
        self.exposure_window_seconds = options.exposure_window_seconds
        self.observer = ports.observer
        self.page_rewriter = ports.page_rewriter
        self._fail_open = shared.fail_open
        self.steps = DecisionSteps(
            keyring=keyring,
            outbox=ports.outbox,
            metrics=self.metrics,
            now=self.clock.now,
            new_id=self.new_id,
            exposure_window_seconds=options.exposure_window_seconds,
            fail_open=self._fail_open,
        )
        self.coalescer = shared.coalescer
        """Shared by every pipeline of a process (an isolate at the edge) to meet in."""
        ofrep = OfrepRoutes(config=config, keyring=keyring, clock=self.clock, metrics=self.metrics)
        self.track = TrackEndpoint(
            config=config,
            steps=self.steps,
            clock=self.clock,
            metrics=self.metrics,
            guard=shared.track_guard,
            observer=ports.observer,
            fail_open=self._fail_open,
        )
        self.trusted_upstreams = TrustedUpstreams(options.trusted_upstreams)
        self.admin = AdminRoutes(
            config=config,
            metrics=self.metrics,
            clock=self.clock,
            admin_token=options.admin_token,
            status=ports.status,
            before_metrics=options.before_metrics,
            track=ofrep.with_cors(self.track),  # OFREP browser apps report to /track cross-origin
            fail_open=self._fail_open,
            ofrep=ofrep.handle,
            guard=shared.admin_guard,
        )

    @property
    def keyring(self) -> Keyring:
        return self.steps.keyring

    @keyring.setter
    def keyring(self, keyring: Keyring) -> None:
        self.steps.keyring = keyring

    @property
    def outbox(self) -> OutboxPort:
        return self.steps.outbox

    @outbox.setter
    def outbox(self, outbox: OutboxPort) -> None:
        self.steps.outbox = outbox

    async def handle(self, request: ProxyRequest) -> ProxyResponse:
        started = self.clock.monotonic()
        try:
            return await self._handle(request)
        finally:
            self.metrics.observe_latency(self.clock.monotonic() - started)

    async def _handle(self, request: ProxyRequest) -> ProxyResponse:
        config = self.config.current
        settings = config.settings
        sanitized = sanitize_request(
            request, settings.cache.ignore_query_params, settings.decision.header, self.trusted_upstreams
        )
        if isinstance(sanitized, ProxyResponse):
            self.metrics.inc("edgesplit_requests_total", outcome="bad_request")
            return sanitized
        request = sanitized
        path = request.path
        prefix = settings.admin.path_prefix
        if path == prefix or path.startswith(prefix + "/"):
            return await self.admin.handle(request, prefix, path[len(prefix) :])

        given = client_input(request, config)
        headers = given.headers
        traced = trace_allowed(request.headers, given.cookies, self.admin.admin_token, self.clock.now())
        decision = self.steps.decide(request, given, config)
        trace_attributes = (
            RequestAttributes(request.method, request.url, headers.copy(), given.cookies, request.platform)
            if traced
            else {}
        )
        forwarded = ProxyRequest(
            request.method, request.url, headers, request.body, request.client_ip, request.platform
        )
        started = self.clock.monotonic()
        plan = self._plan(config, decision, forwarded)
        if plan.redirect is not None:
            self.metrics.inc("edgesplit_requests_total", outcome="redirect")
            response = plan.redirect
        else:
            response = await self._fetch(plan.request, plan.fetch_decision, config.settings)
            response = await apply_page_changes(
                self.page_rewriter, response, plan, decision, settings, request.method, self.metrics
            )
        self._finish(response, decision)
        response.headers.remove(TRACE_HEADER)  # only edgesplit traces, and only for the admin
        if traced:
            self._trace(response, trace_attributes, config, decision)
        self._emit(decision)
        self._observe(decision, response.status, self.clock.monotonic() - started)
        return response

    def _plan(self, config: Any, decision: Decision, forwarded: ProxyRequest) -> PagePlan:
        try:
            return plan_page(config, decision, forwarded)
        except Exception as exc:  # noqa: BLE001 - the page as the origin has it, without the variant's edits
            self._fail_open("page_plan", exc)
            return PagePlan(forwarded, decision)

    def _sign(self, headers: Headers, header: str, decision: Decision) -> None:
        """The decision header, signed now that the request really goes to the origin."""
        token = self.steps.sign(decision)
        if token is not None:
            headers.set(header, token)

    def _trace(self, response: ProxyResponse, attributes: Any, config: Any, decision: Decision) -> None:
        try:
            cache = response.headers.get(CACHE_STATUS_HEADER) or "none"
            add_trace(response, attributes, config, decision, cache)
        except Exception as exc:  # noqa: BLE001 - a trace is never worth the page
            self._fail_open("trace", exc)

    def _observe(self, decision: Decision, status: int, latency_seconds: float) -> None:
        if self.observer is None or not decision.assignments:
            return
        try:
            self.observer.request_done(decision, status, latency_seconds)
        except Exception as exc:  # noqa: BLE001
            self._fail_open("observer", exc)

    async def _lookup(self, key: str, request: ProxyRequest) -> ProxyResponse | None:
        assert self.cache is not None
        try:
            return await self.cache.lookup(key, request)
        except Exception as exc:  # noqa: BLE001
            self._fail_open("cache_lookup", exc)
            return None

    async def _wait_for_leader(self, key: str, request: ProxyRequest) -> ProxyResponse | None:
        """A miss while another request fetches this very page: wait for its copy rather than
        ask the origin again (the cache stampede when a hot page expires)."""
        if not await self.coalescer.follow(key):
            return None
        cached = await self._lookup(key, request)
        if cached is not None:
            self.metrics.inc("edgesplit_cache_total", result="coalesced")
        return cached

    async def _fetch(self, request: ProxyRequest, decision: Decision, settings: Any) -> ProxyResponse:
        cache_settings = settings.cache
        use_cache = (
            self.cache is not None
            and cache_settings.enabled
            and request.method in ("GET", "HEAD")
            and request.body is None  # a body is not in the key: never cached, never served from it
        )
        key = ""
        release: Callable[[], None] | None = None
        if use_cache:
            key = cache_key(request.url, decision.vector, cache_settings.ignore_query_params)
            cached = await self._lookup(key, request)
            if cached is None and request.method == "GET":
                cached = await self._wait_for_leader(key, request)
                if cached is None and key not in self.coalescer:
                    release = self.coalescer.lead(key)
            if cached is not None:
                self.metrics.inc("edgesplit_cache_total", result="hit")
                self.metrics.inc("edgesplit_requests_total", outcome="cache_hit")
                if request.method == "HEAD":
                    cached.body = None
                cached.headers.set(CACHE_STATUS_HEADER, "HIT")
                return cached
        try:
            response = await self._from_origin(
                request, decision, settings, key if use_cache else None, release
            )
        except BaseException:
            if release is not None:
                release()
            raise
        if release is not None and response.headers.get(CACHE_STATUS_HEADER) != "MISS":
            release()  # nothing will be stored: the others need not wait for this body
        return response

    async def _from_origin(
        self,
        request: ProxyRequest,
        decision: Decision,
        settings: Any,
        key: str | None,
        stored: Callable[[], None] | None,
    ) -> ProxyResponse:
        """The origin's answer, stored for ``key`` when shareable; ``stored`` is called once
        the copy is in the cache or will not be."""
        self._sign(request.headers, settings.decision.header, decision)
        try:
            response = await self.origin.fetch(request)
        except OriginTimeout:
            self.metrics.inc("edgesplit_origin_errors_total", kind="timeout")
            self.metrics.inc("edgesplit_requests_total", outcome="origin_timeout")
            return plain_response(504, "504 Gateway Timeout: the origin did not answer in time.\n")
        except OriginUnavailable as exc:
            self.metrics.inc("edgesplit_origin_errors_total", kind="unavailable")
            self.metrics.inc("edgesplit_requests_total", outcome="origin_unavailable")
            log.warning("origin unavailable: %s", exc)
            return plain_response(502, "502 Bad Gateway: the origin could not be reached.\n")
        if response.status >= 500:
            self.metrics.inc("edgesplit_origin_errors_total", kind="5xx")
        self.metrics.inc("edgesplit_requests_total", outcome="proxied")
        strip_hop_by_hop(response.headers)
        if key is None:
            return response
        ttl = None
        if request.method == "GET":
            ttl = shared_ttl(
                "GET",
                response.status,
                response.headers,
                self.clock.now(),
                has_authorization="authorization" in request.headers,
            )
        if ttl:
            assert self.cache is not None
            try:
                response = self.cache.store(key, request, response, ttl, stored)
                self.metrics.inc("edgesplit_cache_total", result="miss_stored")
            except Exception as exc:  # noqa: BLE001
                self._fail_open("cache_store", exc)
                if stored is not None:
                    stored()
            response.headers.set(CACHE_STATUS_HEADER, "MISS")
        else:
            self.metrics.inc("edgesplit_cache_total", result="bypass")
            response.headers.set(CACHE_STATUS_HEADER, "BYPASS")
        return response

    @staticmethod
    def _finish(response: ProxyResponse, decision: Decision) -> None:
        client_cache_control(response.headers, bool(decision.vector))
        for cookie in decision_cookies(decision):
            response.headers.add("set-cookie", cookie)

    def _emit(self, decision: Decision) -> None:
        self.steps.emit(decision)
