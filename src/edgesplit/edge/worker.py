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

State lives per isolate and is built on the first request, never at import: no entropy, env
reads or JS objects at module level.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..core import Keyring, KeyringError, parse_keyring_text
from ..guardrails.recorder import CountsRecorder
from ..pipeline import Metrics, OriginTimeout, Pipeline
from ..pipeline.admin_guard import AdminGuard
from ..pipeline.coalesce import MissCoalescer
from ..pipeline.failures import FailOpen
from ..pipeline.http import plain_response
from ..pipeline.options import track_limits_from_text, trusted_upstreams_from_text
from ..pipeline.parts import PipelineOptions, PipelinePorts, Shared
from ..pipeline.track_guard import TrackGuard
from ..queue.delivery import Breaker, DeliveryOutbox, ExposureDeduper
from ..queue.sharding import shard_name
from ..system import SystemClock, new_visitor_id
from ..vendors import adapters_from_settings
from .config_source import EdgeConfigSource
from .js_adapters import (
    DurableObjectQueue,
    EdgeCache,
    FetchOrigin,
    FetchSender,
    WaitUntilBackground,
    to_proxy_request,
    to_workers_response,
)
from .page_rewriter import HtmlRewriterPages
from .status_source import EdgeStatusSource

__all__ = ["handle_fetch", "handle_scheduled"]

log = logging.getLogger("edgesplit.edge")


class _IsolateState:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self.fail_open = FailOpen(self.metrics, log)  # one per isolate: each stage logged once
        self.config_source: EdgeConfigSource | None = None
        self.keyring: Keyring | None = None
        self.keyring_text: str | None = None
        self.adapters: dict[str, Any] = {}
        self.adapters_source: tuple[str | None, str | None] | None = None
        self.breakers: dict[str, Breaker] = {}
        self.deduper = ExposureDeduper(50_000)
        self.recorder = CountsRecorder()
        self.counts_flushed_at = 0.0
        self.coalescer = MissCoalescer(SystemClock())  # the isolate's requests meet here
        self.track_guard: TrackGuard | None = None
        self.track_limits_text: str | None = None
        self.admin_guard = AdminGuard()

    def track_guard_for(self, env: Any) -> TrackGuard:
        text = _var(env, "EDGESPLIT_TRACK_LIMITS")
        if self.track_guard is None or text != self.track_limits_text:
            self.track_guard = TrackGuard(
                _or_default(self, track_limits_from_text, env, "EDGESPLIT_TRACK_LIMITS")
            )
            self.track_limits_text = text
        return self.track_guard

    def vendor_adapters(self, env: Any) -> dict[str, Any]:
        source = (_var(env, "EDGESPLIT_VENDORS"), _var(env, "EDGESPLIT_VENDOR_URL"))
        if source != self.adapters_source:
            self.adapters = adapters_from_settings(*source)
            self.adapters_source = source
        return self.adapters


_STATE: _IsolateState | None = None


def _state() -> _IsolateState:
    global _STATE  # noqa: PLW0603 - one state per isolate, created on the first request
    if _STATE is None:
        _STATE = _IsolateState()
    return _STATE


def _var(env: Any, name: str, default: str | None = None) -> str | None:
    value = getattr(env, name, None)
    return value if isinstance(value, str) and value != "" else default


def _or_default(state: _IsolateState, parse: Any, env: Any, name: str) -> Any:
    """An option parsed from its variable; a bad value is logged once and the default used."""
    try:
        return parse(_var(env, name))
    except ValueError as exc:
        state.fail_open(name.lower(), exc)
        return None


def _keyring(state: _IsolateState, env: Any) -> Keyring:
    text = _var(env, "EDGESPLIT_KEYS")
    if text is None:
        raise KeyringError("the EDGESPLIT_KEYS secret is not set (wrangler secret put EDGESPLIT_KEYS)")
    if state.keyring is None or text != state.keyring_text:
        state.keyring = parse_keyring_text(text)
        state.keyring_text = text
    return state.keyring


async def _config(state: _IsolateState, env: Any) -> Any:
    if state.config_source is None:
        state.config_source = EdgeConfigSource(
            float(_var(env, "EDGESPLIT_CONFIG_TTL", "30") or 30), state.metrics
        )
    kv = getattr(env, "EDGESPLIT_CONFIG", None)
    key = _var(env, "EDGESPLIT_CONFIG_KEY", "config.json")

    async def read() -> str | None:
        if kv is None:
            return None
        value = await kv.get(key)
        return value if isinstance(value, str) else None

    return await state.config_source.current(time.time(), read, _var(env, "EDGESPLIT_CONFIG_JSON"))


def _pipeline(state: _IsolateState, env: Any, ctx: Any, holder: Any, keyring: Keyring) -> Pipeline:
    background = WaitUntilBackground(ctx)
    shards = int(_var(env, "EDGESPLIT_QUEUE_SHARDS", "8") or 8)
    counters = _counters(env)
    return Pipeline(
        config=holder,
        keyring=keyring,
        ports=PipelinePorts(
            origin=_origin(env),
            outbox=DeliveryOutbox(
                state.vendor_adapters(env),
                FetchSender(2.0),
                DurableObjectQueue(env.QUEUE, shards),
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
            status=EdgeStatusSource(counters, env.QUEUE, shards, state.recorder)
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
            track_guard=state.track_guard_for(env),
            admin_guard=state.admin_guard,
        ),
        options=PipelineOptions(
            admin_token=_var(env, "EDGESPLIT_ADMIN_TOKEN"),
            trusted_upstreams=_or_default(
                state, trusted_upstreams_from_text, env, "EDGESPLIT_TRUSTED_UPSTREAMS"
            )
            or (),
        ),
    )


def _origin(env: Any) -> FetchOrigin:
    return FetchOrigin(
        _var(env, "EDGESPLIT_ORIGIN"), float(_var(env, "EDGESPLIT_ORIGIN_TIMEOUT", "30") or 30)
    )


COUNTS_FLUSH_SECONDS = 5.0


def _counts_rows(state: _IsolateState, now: float, force: bool = False) -> list[list[Any]]:
    """This isolate's counts as RPC-safe rows, every few seconds (not on every request)."""
    if not force and now - state.counts_flushed_at < COUNTS_FLUSH_SECONDS:
        return []
    state.counts_flushed_at = now
    return [[e, v, t, amounts] for e, v, t, amounts in state.recorder.drain(now)]


def _counters(env: Any) -> Any:
    namespace = getattr(env, "COUNTERS", None)
    return namespace.get(namespace.idFromName("counters")) if namespace is not None else None


async def handle_fetch(request: Any, env: Any, ctx: Any) -> Any:
    state = _state()
    proxy_request = to_proxy_request(request)
    try:
        holder = await _config(state, env)
        keyring = _keyring(state, env)
        if holder is None:
            raise RuntimeError("no configuration: set EDGESPLIT_CONFIG (KV) or EDGESPLIT_CONFIG_JSON")
    except Exception as exc:  # noqa: BLE001 - serve the origin rather than an error page
        state.fail_open("edge_setup", exc)  # the request passes through, without a decision
        try:
            return to_workers_response(await _origin(env).fetch(proxy_request))
        except OriginTimeout:
            return to_workers_response(
                plain_response(504, "504 Gateway Timeout: the origin did not answer in time.\n")
            )
        except Exception:  # noqa: BLE001
            return to_workers_response(
                plain_response(502, "502 Bad Gateway: the origin could not be reached.\n")
            )
    pipeline = _pipeline(state, env, ctx, holder, keyring)
    response = await pipeline.handle(proxy_request)
    counters = _counters(env)
    rows = _counts_rows(state, time.time()) if counters is not None else []
    if rows:
        pipeline.background.defer(_send_counts(state, counters, rows))
    return to_workers_response(response)


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
    holder = await _config(state, env)
    shards = int(_var(env, "EDGESPLIT_QUEUE_SHARDS", "8") or 8)
    namespace = env.QUEUE
    depths = []
    for index in range(shards):
        stub = namespace.get(namespace.idFromName(shard_name(index)))
        depths.append(await stub.kick())
    result: dict[str, Any] = {"config_version": holder.current.version if holder else None, "shards": depths}
    counters = _counters(env)
    if counters is not None:
        rows = _counts_rows(state, time.time(), force=True)
        if rows:
            await counters.add(rows)
        result["guardrails"] = await counters.update()
    return result
