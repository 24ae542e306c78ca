"""What the Worker does per request and per cron tick, with workerd's bindings as ports.

Bindings and variables (wrangler.toml):

- ``EDGESPLIT_CONFIG`` (KV namespace, optional): the config document under key
  ``EDGESPLIT_CONFIG_KEY`` (default ``config.json``), re-read after ``EDGESPLIT_CONFIG_TTL``
  seconds (default 30); ``EDGESPLIT_CONFIG_JSON`` (var) is used when KV has none.
- ``EDGESPLIT_KEYS`` (secret): the signing keyring; ``EDGESPLIT_ADMIN_TOKEN`` (secret, optional).
- ``EDGESPLIT_ORIGIN`` (var, optional): origin base URL; without it requests go on to the
  zone's own origin (route mode).
- ``QUEUE`` (Durable Object namespace): the event queue shards; ``EDGESPLIT_QUEUE_SHARDS``.
- ``EDGESPLIT_TRACK_LIMITS`` (var, optional): JSON object of ``/track`` caps (docs/security.md);
  ``EDGESPLIT_TRUSTED_UPSTREAMS`` (var, optional): comma-separated addresses/networks whose
  ``X-Forwarded-*`` headers are believed (by default none: edgesplit sets them itself).
- ``EDGESPLIT_VENDOR_URL`` (var) and/or ``EDGESPLIT_VENDORS`` (secret, JSON list of vendor
  specs): where events go, directly and from the queue.

Every variable is read and checked by ``edge/settings.py`` (defaults: edgesplit/core/defaults.py).
State lives per isolate and is built on the first request, never at import: no entropy, env
reads or JS objects at module level. The pipeline is built once per isolate and rebuilt only
when the settings (variables, secrets) or the config holder change; what belongs to one
request (``ctx.waitUntil``) reaches it through ``request_scope``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..core import KeyringError, defaults
from ..guardrails.recorder import CountsRecorder
from ..pipeline import Metrics, OriginTimeout, Pipeline, ProxyRequest, ProxyResponse
from ..pipeline.admin_guard import AdminGuard
from ..pipeline.coalesce import MissCoalescer
from ..pipeline.failures import FailOpen
from ..pipeline.parts import PipelineOptions, PipelinePorts, Shared
from ..pipeline.track_guard import TrackGuard
from ..ports.http import plain_response
from ..queue.delivery import Breaker, DeliveryOutbox, ExposureDeduper
from ..queue.sharding import shard_name
from ..system import SystemClock, new_visitor_id
from .config_source import EdgeConfigSource
from .js_adapters import (
    DurableObjectQueue,
    EdgeCache,
    FetchOrigin,
    FetchSender,
    to_proxy_request,
    to_workers_response,
)
from .page_rewriter import HtmlRewriterPages
from .request_scope import RequestBackground, bound
from .settings import EdgeSettings, SettingsError, Values, read_values
from .status_source import EdgeStatusSource, counters_stub

__all__ = ["handle_fetch", "handle_scheduled"]

log = logging.getLogger("edgesplit.edge")
BINDINGS = ("EDGESPLIT_CONFIG", "QUEUE", "COUNTERS")


class _IsolateState:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self.fail_open = FailOpen(self.metrics, log)  # one per isolate: each stage logged once
        self.config_source: EdgeConfigSource | None = None
        self.values: Values | None = None
        self.settings: EdgeSettings | SettingsError | None = None
        self.env_seen: Any = None
        self.bindings: dict[str, Any] = {}
        self.breakers: dict[str, Breaker] = {}
        self.deduper = ExposureDeduper(50_000)
        self.recorder = CountsRecorder()
        self.counts_flushed_at = 0.0
        self.coalescer = MissCoalescer(SystemClock())  # the isolate's requests meet here
        self.track_guard: TrackGuard | None = None
        self.admin_guard = AdminGuard()
        self.background = RequestBackground()  # defers to the current request's waitUntil
        self.pipeline: Pipeline | None = None
        self.pipeline_inputs: tuple[EdgeSettings, Any] | None = None

    def settings_for(self, env: Any) -> EdgeSettings:
        """The settings in ``env`` (SettingsError when one is bad, every time, so every request
        passes through). Read again only when workerd hands over another env object: its
        variables are fixed for the isolate's life (a change is a new deployment), and each read
        through the SDK's wrapper costs a few JS calls per variable."""
        seen = getattr(env, "_env", None)  # workerd's env behind the SDK's per-request wrapper
        if seen is None or self.env_seen is None or not bool(seen == self.env_seen):
            self._read(env)
            self.env_seen = seen
        if isinstance(self.settings, SettingsError):
            raise self.settings
        assert self.settings is not None
        return self.settings

    def _read(self, env: Any) -> None:
        values = read_values(env)
        if values != self.values or self.settings is None:  # parsed again only when changed
            try:
                self.settings = EdgeSettings.from_values(values)
            except SettingsError as exc:
                self.settings = exc
            self.values = values
        self.bindings = {name: getattr(env, name, None) for name in BINDINGS}

    def pipeline_for(self, settings: EdgeSettings, holder: Any) -> Pipeline:
        """One pipeline per isolate; a new one when the settings or the config holder change."""
        inputs = self.pipeline_inputs
        if self.pipeline is None or inputs is None or inputs[0] is not settings or inputs[1] is not holder:
            self.pipeline = _build_pipeline(self, settings, holder)
            self.pipeline_inputs = (settings, holder)
        return self.pipeline

    def track_guard_for(self, settings: EdgeSettings) -> TrackGuard:
        """Kept across pipelines (it remembers reports) until the limits themselves change."""
        if self.track_guard is None or self.track_guard.limits != settings.track_limits:
            self.track_guard = TrackGuard(settings.track_limits)
        return self.track_guard


_STATE: _IsolateState | None = None


def _state() -> _IsolateState:
    global _STATE  # noqa: PLW0603 - one state per isolate, created on the first request
    if _STATE is None:
        _STATE = _IsolateState()
    return _STATE


async def _config(state: _IsolateState, settings: EdgeSettings) -> Any:
    if state.config_source is None:
        state.config_source = EdgeConfigSource(settings.config_ttl_seconds, state.metrics)
    state.config_source.ttl_seconds = settings.config_ttl_seconds
    kv = state.bindings.get("EDGESPLIT_CONFIG")
    key = settings.config_key

    async def read() -> str | None:
        if kv is None:
            return None
        value = await kv.get(key)
        return value if isinstance(value, str) else None

    return await state.config_source.current(time.time(), read, settings.config_json)


def _build_pipeline(state: _IsolateState, settings: EdgeSettings, holder: Any) -> Pipeline:
    """Everything here outlives the request: the bindings (``QUEUE``, ``COUNTERS``) are the
    isolate's, and work for later goes through ``state.background`` to the current request."""
    assert settings.keyring is not None
    background = state.background
    queue, counters = state.bindings["QUEUE"], state.bindings["COUNTERS"]
    return Pipeline(
        config=holder,
        keyring=settings.keyring,
        ports=PipelinePorts(
            origin=_origin(settings),
            outbox=DeliveryOutbox(
                settings.vendors,
                FetchSender(defaults.DIRECT_SEND_TIMEOUT_SECONDS),
                DurableObjectQueue(queue, settings.queue_shards),
                background,
                SystemClock(),
                state.metrics,
                linger_seconds=0.0,
                deduper=state.deduper,
                breakers=state.breakers,
            ),
            background=background,
            cache=EdgeCache(background, state.fail_open),
            observer=state.recorder if counters is not None else None,
            status=EdgeStatusSource(counters, queue, settings.queue_shards, state.recorder)
            if counters is not None
            else None,
            page_rewriter=HtmlRewriterPages(),
        ),
        shared=Shared(
            clock=SystemClock(),
            new_id=new_visitor_id,
            metrics=state.metrics,
            fail_open=state.fail_open,
            coalescer=state.coalescer,
            track_guard=state.track_guard_for(settings),
            admin_guard=state.admin_guard,
        ),
        options=PipelineOptions(
            admin_token=settings.admin_token,
            trusted_upstreams=settings.trusted_upstreams,
        ),
    )


def _origin(settings: EdgeSettings) -> FetchOrigin:
    return FetchOrigin(settings.origin, settings.origin_timeout_seconds)


COUNTS_FLUSH_SECONDS = 5.0


def _counts_rows(state: _IsolateState, now: float, force: bool = False) -> list[list[Any]]:
    """This isolate's counts as RPC-safe rows, every few seconds (not on every request)."""
    if not force and now - state.counts_flushed_at < COUNTS_FLUSH_SECONDS:
        return []
    state.counts_flushed_at = now
    return [[e, v, t, amounts] for e, v, t, amounts in state.recorder.drain(now)]


async def handle_fetch(request: Any, env: Any, ctx: Any) -> Any:
    state = _state()
    proxy_request = to_proxy_request(request)
    with bound(ctx):
        try:
            settings = state.settings_for(env)
            holder = await _config(state, settings)
            if settings.keyring is None:
                raise KeyringError(
                    "the EDGESPLIT_KEYS secret is not set (wrangler secret put EDGESPLIT_KEYS)"
                )
            if holder is None:
                raise RuntimeError("no configuration: set EDGESPLIT_CONFIG (KV) or EDGESPLIT_CONFIG_JSON")
        except Exception as exc:  # noqa: BLE001 - serve the origin rather than an error page
            return to_workers_response(await _pass_through(state, proxy_request, exc))
        response = await state.pipeline_for(settings, holder).handle(proxy_request)
        counters = state.bindings["COUNTERS"]
        rows = _counts_rows(state, time.time()) if counters is not None else []
        if rows:
            state.background.defer(_send_counts(state, counters_stub(counters), rows))
        return to_workers_response(response)


async def _pass_through(state: _IsolateState, request: ProxyRequest, exc: Exception) -> ProxyResponse:
    """The request on to the origin without a decision: edgesplit cannot decide right now."""
    stage = "edge_settings" if isinstance(exc, SettingsError) else "edge_setup"
    state.fail_open(stage, exc)
    settings = exc.fallback if isinstance(exc, SettingsError) else state.settings
    try:
        return await _origin(settings if isinstance(settings, EdgeSettings) else EdgeSettings()).fetch(
            request
        )
    except OriginTimeout:
        return plain_response(504, "504 Gateway Timeout: the origin did not answer in time.\n")
    except Exception:  # noqa: BLE001
        return plain_response(502, "502 Bad Gateway: the origin could not be reached.\n")


async def _send_counts(state: _IsolateState, counters: Any, rows: list[list[Any]]) -> None:
    """Counts to the Counters object after the response; kept for the next flush if it fails."""
    try:
        await counters.add(rows)
    except Exception as exc:  # noqa: BLE001 - counting must never cost the page
        state.recorder.restore(rows)  # kept for the next flush
        state.fail_open("counts", exc)


async def handle_scheduled(env: Any) -> dict[str, Any]:
    """Cron: refresh the config and make sure every queue shard's alarm is armed."""
    state = _state()
    settings = state.settings_for(env)
    holder = await _config(state, settings)
    namespace = env.QUEUE
    depths = []
    for index in range(settings.queue_shards):
        stub = namespace.get(namespace.idFromName(shard_name(index)))
        depths.append(await stub.kick())
    result: dict[str, Any] = {"config_version": holder.current.version if holder else None, "shards": depths}
    namespace = getattr(env, "COUNTERS", None)
    if namespace is not None:
        counters = counters_stub(namespace)
        rows = _counts_rows(state, time.time(), force=True)
        if rows:
            await counters.add(rows)
        result["guardrails"] = await counters.update()
    return result
