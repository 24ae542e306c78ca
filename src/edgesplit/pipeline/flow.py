"""The request flow both shells run: decide, forward, cache per variant, answer.

    client -> strip forged decisions -> decide (identity, policy, assign, sign)
           -> per-variant cache lookup -> origin (streamed) -> store if shareable
           -> answer (cookie, private cache-control for variant pages) -> exposures to outbox

Every failure of edgesplit itself is served open: the request still reaches the origin, with no
decision, and the failure is counted and logged once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ..core import ConfigHolder, Keyring
from ..ports import (
    BackgroundPort,
    CachePort,
    Clock,
    ObserverPort,
    OriginPort,
    OriginTimeout,
    OriginUnavailable,
    OutboxPort,
)
from ..ports.http import Headers, ProxyRequest, ProxyResponse, plain_response, strip_hop_by_hop
from ..ports.metrics import Metrics
from ..status.report import StatusSource
from .admin import AdminRoutes
from .admin_guard import AdminGuard
from .attributes import RequestAttributes
from .cache_policy import cache_key, client_cache_control, shared_ttl
from .coalesce import MissCoalescer
from .cookies import parse_cookie_header
from .decide import Decision
from .failures import FailOpen
from .manifests import manifests_for
from .ofrep import OfrepRoutes
from .page_changes import PageRewriterPort, apply_page_changes
from .page_plan import PagePlan, plan_page
from .request_decision import DecisionSteps, client_input, decision_cookies
from .request_hygiene import TrustedUpstreams, sanitize_request
from .trace import TRACE_HEADER, add_trace, trace_allowed
from .track import TrackError, parse_track
from .track_guard import TrackGuard, report_token, token_reason_label, track_reason_label

__all__ = ["Pipeline"]

log = logging.getLogger("edgesplit.pipeline")
CACHE_STATUS_HEADER = "x-edgesplit-cache"


class Pipeline:
    def __init__(
        self,
        *,
        config: ConfigHolder,
        keyring: Keyring,
        origin: OriginPort,
        outbox: OutboxPort,
        clock: Clock,
        new_id: Callable[[], str],
        background: BackgroundPort,
        cache: CachePort | None = None,
        metrics: Metrics | None = None,
        admin_token: str | None = None,
        exposure_window_seconds: int = 1800,
        before_metrics: Callable[[], None] | None = None,
        observer: ObserverPort | None = None,
        status: StatusSource | None = None,
        fail_open: FailOpen | None = None,
        coalescer: MissCoalescer | None = None,
        page_rewriter: PageRewriterPort | None = None,
        track_guard: TrackGuard | None = None,
        admin_guard: AdminGuard | None = None,
        trusted_upstreams: Sequence[str] = (),
    ) -> None:
        self.config = config
        self.origin = origin
        self.clock = clock
        self.new_id = new_id
        self.background = background
        self.cache = cache
        self.metrics = metrics or Metrics()
        self.exposure_window_seconds = exposure_window_seconds
        self.observer = observer
        self.page_rewriter = page_rewriter
        self._fail_open = fail_open or FailOpen(self.metrics, log)
        self.steps = DecisionSteps(
            keyring=keyring,
            outbox=outbox,
            metrics=self.metrics,
            now=clock.now,
            new_id=new_id,
            exposure_window_seconds=exposure_window_seconds,
            fail_open=self._fail_open,
        )
        self.coalescer = coalescer if coalescer is not None else MissCoalescer(clock)
        """Shared by every pipeline of a process (an isolate at the edge) to meet in."""
        ofrep = OfrepRoutes(config=config, keyring=keyring, clock=clock, metrics=self.metrics)
        self.track_guard = track_guard or TrackGuard()  # per process or isolate: it remembers
        self.trusted_upstreams = TrustedUpstreams(trusted_upstreams)
        self.admin = AdminRoutes(
            config=config,
            metrics=self.metrics,
            clock=clock,
            admin_token=admin_token,
            status=status,
            before_metrics=before_metrics,
            track=ofrep.with_cors(self._track),  # OFREP browser apps report to /track cross-origin
            fail_open=self._fail_open,
            ofrep=ofrep.handle,
            guard=admin_guard,
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

    async def _track(self, request: ProxyRequest) -> ProxyResponse:
        if request.method != "POST":
            return plain_response(405, "405 Method Not Allowed: POST a JSON conversion\n")
        if not self.track_guard.admit_client(request.client_ip, self.clock.now()):
            return _refused(self.metrics, TrackError(429, "rate_limited: too many reports from this address"))
        body = await request.read_body(16 * 1024) if request.read_body is not None else None
        settings = self.config.current.settings
        cookies = parse_cookie_header("; ".join(request.headers.get_all("cookie")) or None)
        fallback = cookies.get(settings.decision.cookie) or request.headers.get(settings.decision.header)
        result = (
            parse_track(body, fallback, self.keyring, self.clock.now(), manifests_for(self.config.current))
            if body is not None
            else TrackError(413, "body larger than 16384 bytes")
        )
        if isinstance(result, TrackError):
            return _refused(self.metrics, result)
        assert body is not None
        verdict = self.track_guard.admit(result, report_token(body, fallback), self.clock.now())
        if verdict == "duplicate":  # a retry: it worked the first time, and counts once
            self.metrics.inc("edgesplit_track_duplicates_total")
            reply = {"accepted": result["id"], "duplicate": True}
            return plain_response(202, json.dumps(reply) + "\n", "application/json")
        if verdict is not None:
            return _refused(self.metrics, TrackError(429, f"{verdict}: too many reports for this visitor"))
        try:
            self.outbox.submit([result])
        except Exception as exc:  # noqa: BLE001
            self._fail_open("outbox", exc)
            return plain_response(
                503, json.dumps({"error": "events cannot be taken right now"}) + "\n", "application/json"
            )
        if result["type"] == "drift":
            self.metrics.inc("edgesplit_drift_total", experiment=result["properties"]["experiment"])
            log.warning("drift reported: %s", result["properties"])
            return plain_response(202, json.dumps({"accepted": result["id"]}) + "\n", "application/json")
        if result["type"] == "exposure":  # reported by an OFREP client: counted like a page's
            self.metrics.inc("edgesplit_exposures_total")
            if self.observer is not None:
                try:
                    self.observer.request_done(Decision(exposures=(result,)), 200, 0.0)
                except Exception as exc:  # noqa: BLE001
                    self._fail_open("observer", exc)
            return plain_response(202, json.dumps({"accepted": result["id"]}) + "\n", "application/json")
        self.metrics.inc("edgesplit_conversions_total")
        if self.observer is not None:
            try:
                self.observer.conversion(result)
            except Exception as exc:  # noqa: BLE001
                self._fail_open("observer", exc)
        return plain_response(202, json.dumps({"accepted": result["id"]}) + "\n", "application/json")


def _refused(metrics: Metrics, error: TrackError) -> ProxyResponse:
    metrics.inc("edgesplit_track_rejected_total", reason=track_reason_label(error.reason))
    if error.status == 401:
        metrics.inc("edgesplit_tokens_rejected_total", reason=token_reason_label(error.reason))
    return plain_response(error.status, json.dumps({"error": error.reason}) + "\n", "application/json")
