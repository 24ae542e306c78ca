"""Wires the self-hosted proxy together and runs it until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..core import Config, ConfigHolder, Keyring, defaults
from ..pipeline import Metrics, OutboxPort, Pipeline
from ..pipeline.admin_guard import admin_token_problem
from ..pipeline.parts import PipelineOptions, PipelinePorts, Shared
from ..pipeline.track_guard import TrackGuard, TrackLimits
from ..queue.delivery import DeliveryOutbox
from ..queue.drain import DrainPolicy
from ..queue.store import Bounds
from ..state.wiring import shared_guardrails
from ..vendors import make_adapter
from .cache import MemoryCache
from .guardrail_runner import GuardrailRunner
from .limits import ServerLimits
from .memory_outbox import MemoryOutbox
from .origin_client import AiohttpOrigin
from .page_rewriter import SelectolaxRewriter
from .queue_runner import AiohttpSender, LocalQueue
from .reload import ConfigWatcher
from .runtime import SystemClock, TaskBackground, new_visitor_id
from .server import make_server
from .server_limits import LimitedSite
from .status_source import LocalStatusSource

__all__ = ["ProxyOptions", "ProxyService", "serve_forever"]

log = logging.getLogger("edgesplit.serve")
DELIVERY_LINGER_SECONDS = 0.25
"""Events wait this long to be batched: each vendor request is an HTTP round trip through
aiohttp's client on the proxy's CPU, so fewer, larger batches cost less per event (at most
``max_buffer_events`` wait; docs/performance.md)."""


@dataclass
class ProxyOptions:
    origin: str
    host: str = "127.0.0.1"
    port: int = 8080
    config_path: str | None = None
    vendor_url: str | None = None
    """Shortcut for one generic webhook vendor named ``default``."""
    vendors: list[dict[str, Any]] = field(default_factory=list)
    """Vendor specs: ``{"name", "kind": "webhook"|"posthog"|"segment", ...}`` (see vendors.adapters)."""
    queue_dir: str = defaults.QUEUE_DIR
    """Durable state: the queue shards and the guardrail counts (counts.sqlite3)."""
    guardrail_interval: float = 10.0
    queue_shards: int = defaults.LOCAL_QUEUE_SHARDS
    queue_bounds: Bounds = Bounds()
    direct_timeout: float = defaults.DIRECT_SEND_TIMEOUT_SECONDS
    breaker_cooldown: float = 5.0
    drain_timeout: float = defaults.DRAIN_TIMEOUT_SECONDS
    drain_policy: DrainPolicy | None = None
    admin_token: str | None = None
    origin_timeout: float = defaults.ORIGIN_TIMEOUT_SECONDS
    connect_timeout: float = 5.0
    preserve_host: bool = False
    access_log: bool = False
    reload_interval: float = 1.0
    exposure_window_seconds: int = 1800
    state_url: str | None = None
    """Several proxies sharing counts, the updater and the config: ``redis://...`` (see
    docs/scaling-out.md). None: this proxy's own SQLite files, as before."""
    extra_cleanup: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    track_limits: TrackLimits = field(default_factory=TrackLimits)
    trusted_upstreams: tuple[str, ...] = ()
    """Peers whose X-Forwarded-* headers are believed (addresses or networks); docs/security.md."""
    server_limits: ServerLimits = field(default_factory=ServerLimits)


class ProxyService:
    """The proxy's parts, started and stopped together (also used by tests and the demo)."""

    def __init__(
        self, options: ProxyOptions, config: Config, keyring: Keyring, outbox: OutboxPort | None = None
    ) -> None:
        problem = admin_token_problem(options.admin_token)
        if problem is not None:
            raise ValueError(problem)
        self.options = options
        self.clock = SystemClock()
        self.metrics = self.new_metrics()
        self.holder = ConfigHolder(config)
        self.background = TaskBackground()
        self.origin = AiohttpOrigin(
            options.origin,
            connect_timeout=options.connect_timeout,
            read_timeout=options.origin_timeout,
            preserve_host=options.preserve_host,
        )
        cache_settings = config.settings.cache
        self.cache = MemoryCache(
            self.clock, max_bytes=cache_settings.max_bytes, max_entry_bytes=cache_settings.max_entry_bytes
        )
        specs = list(options.vendors)
        if options.vendor_url:
            specs.append({"name": "default", "kind": "webhook", "url": options.vendor_url})
        self.adapters = {spec.get("name", spec.get("kind", "webhook")): make_adapter(spec) for spec in specs}
        self.queue: LocalQueue | None = None
        self.senders: list[AiohttpSender] = []
        if self.adapters and outbox is None:
            direct = AiohttpSender(self.clock, options.direct_timeout)
            drain = AiohttpSender(self.clock, options.drain_timeout)
            self.senders = [direct, drain]
            policy = options.drain_policy or DrainPolicy(bounds=options.queue_bounds)
            self.queue = LocalQueue(
                options.queue_dir,
                options.queue_shards,
                self.adapters,
                drain,
                self.clock,
                self.metrics,
                policy,
            )
            outbox = DeliveryOutbox(
                self.adapters,
                direct,
                self.queue,
                self.background,
                self.clock,
                self.metrics,
                breaker_cooldown_seconds=options.breaker_cooldown,
                linger_seconds=DELIVERY_LINGER_SECONDS,
            )
        self.outbox: Any = outbox or MemoryOutbox(metrics=self.metrics)
        self.guardrails: Any
        status: Any
        if options.state_url:
            self.guardrails, status = shared_guardrails(
                options, self.holder, self.clock, self.metrics, self.queue
            )
        else:
            self.guardrails = GuardrailRunner(
                options.queue_dir,
                self.holder,
                options.config_path,
                self.clock,
                self.metrics,
                interval=options.guardrail_interval,
            )
            status = LocalStatusSource(self.guardrails, self.queue)
        self.pipeline = Pipeline(
            config=self.holder,
            keyring=keyring,
            ports=PipelinePorts(
                origin=self.origin,
                outbox=self.outbox,
                background=self.background,
                cache=self.cache,
                observer=self.guardrails.recorder,
                status=status,
                page_rewriter=SelectolaxRewriter(lambda: self.holder.current.settings.pages.max_html_bytes),
            ),
            shared=Shared.create(
                self.clock, new_visitor_id, metrics=self.metrics, track_guard=TrackGuard(options.track_limits)
            ),
            options=PipelineOptions(
                admin_token=options.admin_token,
                exposure_window_seconds=options.exposure_window_seconds,
                trusted_upstreams=options.trusted_upstreams,
                before_metrics=self.queue.export_metrics if self.queue is not None else None,
            ),
        )
        self.watcher = (
            ConfigWatcher(options.config_path, self.holder, self.metrics, interval=options.reload_interval)
            if options.config_path
            else None
        )
        self.runner: web.BaseRunner | None = None
        self.port = options.port

    def new_metrics(self) -> Metrics:
        """This process's metrics (a worker of ``serve --workers`` shares them: proxy/worker.py)."""
        return Metrics()

    def make_app(self) -> web.Application | web.Server:
        access_log = log if self.options.access_log else None
        limits = self.options.server_limits
        return make_server(self.pipeline, limits, access_log=access_log, **limits.runner_kwargs())

    def make_site(self, runner: web.BaseRunner) -> web.BaseSite:
        return LimitedSite(runner, self.options.host, self.options.port, self.options.server_limits)

    async def start(self) -> None:
        app = self.make_app()
        if isinstance(app, web.Server):  # the proxy's own low-level server: built with its settings
            self.runner = web.ServerRunner(app, handle_signals=False)
        else:
            self.runner = web.AppRunner(
                app,
                access_log=log if self.options.access_log else None,
                handle_signals=False,
                **self.options.server_limits.runner_kwargs(),
            )
        await self.runner.setup()
        site = self.make_site(self.runner)
        await site.start()
        if self.options.port == 0 and isinstance(site, web.TCPSite):  # an ephemeral port: which?
            server = site._server  # noqa: SLF001 - aiohttp exposes no public accessor
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.queue is not None:
            self.queue.start()  # resumes alarms persisted before a restart
        if self.watcher is not None:
            self.watcher.start()
        self.guardrails.start()
        config = self.holder.current
        log.info(
            "edgesplit proxy on http://%s:%d -> %s (config %r, %d experiments, vendors: %s)",
            self.options.host,
            self.port,
            self.options.origin,
            config.version,
            len(config.experiments),
            ", ".join(self.adapters) or "none",
        )

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.background.drain()  # events in flight reach the vendor or the queue
        await self.guardrails.stop()
        if self.queue is not None:
            await self.queue.stop()
        for sender in self.senders:
            await sender.close()
        await self.origin.close()
        for cleanup in self.options.extra_cleanup:
            await cleanup()


async def serve_forever(service: ProxyService) -> None:
    """Run until SIGTERM or SIGINT, then stop accepting, finish what is in flight, flush, exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        await service.stop()
