"""``edgesplit decide``: the decision service behind nginx's ``auth_request``.

The proxy's own parts (config watcher, exposures through the durable queue, guardrail counts and
updater, metrics, the admin endpoints), with nginx doing the HTTP, the origin fetch and the
per-variant cache. Each subrequest runs the very decision steps the proxy runs
(``pipeline.request_decision``) and answers with headers nginx acts on (``protocol``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from dataclasses import dataclass

from aiohttp import web

from ..core import Config, Keyring
from ..pipeline import Headers, OutboxPort
from ..pipeline.decide import Decision
from ..pipeline.request_decision import client_input
from ..ports.http import plain_response
from ..proxy.server import send, to_proxy_request
from ..proxy.service import ProxyOptions, ProxyService
from .link import NginxLink
from .outcomes import OutcomeReceiver, outcomes_address
from .protocol import DECIDE_PATH, answer_headers, cacheable_seconds, request_from_nginx

__all__ = ["DecisionService", "NginxOptions"]

log = logging.getLogger("edgesplit.decide")
NO_ORIGIN = "http://127.0.0.1:9"
"""nginx fetches the pages: the service's pipeline never reaches an origin."""


@dataclass
class NginxOptions:
    epoch_file: str | None = None
    """Where to write the decision cache epoch nginx includes (None: answers are never cached)."""
    nginx_pid_file: str | None = None
    decision_cache_seconds: int = 30
    outcomes_port: int | None = None
    """UDP port for nginx's outcome log (None: the service's own port number)."""
    unix_socket: str | None = None
    """Listen on this Unix socket instead of TCP (cheaper for nginx on the same machine); the
    outcome log then arrives on the datagram socket ``<path>.outcomes``."""


class DecisionService(ProxyService):
    def __init__(
        self,
        options: ProxyOptions,
        nginx: NginxOptions,
        config: Config,
        keyring: Keyring,
        outbox: OutboxPort | None = None,
    ) -> None:
        super().__init__(dataclasses.replace(options, origin=NO_ORIGIN), config, keyring, outbox)
        self.nginx = nginx
        self.link = (
            NginxLink(nginx.epoch_file, nginx.nginx_pid_file, self.holder) if nginx.epoch_file else None
        )
        self.outcomes: OutcomeReceiver | None = None

    def make_app(self) -> web.Application:
        app = web.Application(handler_args={"max_field_size": 16 * 1024, "max_line_size": 16 * 1024})
        app.router.add_get(DECIDE_PATH, self._decide)
        app.router.add_route("*", "/{tail:.*}", self._admin)
        return app

    def make_site(self, runner: web.BaseRunner) -> web.BaseSite:
        if self.nginx.unix_socket is None:
            return super().make_site(runner)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.nginx.unix_socket)  # a socket left by an earlier run
        return web.UnixSite(runner, self.nginx.unix_socket)

    def _cache_limit(self, config: Config) -> int:
        if self.link is None or self.link.published is not config:
            return 0  # nginx's key does not name this config yet
        return self.nginx.decision_cache_seconds

    async def _decide(self, request: web.Request) -> web.Response:
        started = self.clock.monotonic()
        headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
        visitor = request_from_nginx(headers, request.remote)
        config = self.holder.current
        given = client_input(visitor, config)
        steps = self.pipeline.steps
        decision = steps.decide(visitor, given, config)
        token = steps.sign(decision)
        steps.emit(decision)
        self._count_exposures(decision)
        seconds = cacheable_seconds(decision, given, config, self._cache_limit(config))
        self.metrics.inc("edgesplit_requests_total", outcome="decided")
        self.metrics.observe_latency(self.clock.monotonic() - started)
        return web.Response(status=204, headers=answer_headers(decision, token, given, seconds))

    def _count_exposures(self, decision: Decision) -> None:
        """Exposures count here, where they are emitted; requests and errors count from nginx's
        outcome log (it alone sees the origin's status)."""
        if not decision.exposures:
            return
        try:
            self.guardrails.recorder.request_done(dataclasses.replace(decision, assignments={}), 0, 0.0)
        except Exception as exc:  # noqa: BLE001
            self.pipeline._fail_open("observer", exc)  # noqa: SLF001 - the pipeline's one reporter

    async def _admin(self, request: web.Request) -> web.StreamResponse:
        prefix = self.holder.current.settings.admin.path_prefix
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return await send(request, await self.pipeline.handle(to_proxy_request(request)))
        return await send(request, plain_response(404, f"404: the decision service answers {prefix}/ only\n"))

    async def start(self) -> None:
        if self.link is not None:
            self.link.publish()  # before nginx starts: its config includes the file
        await super().start()
        port = self.nginx.outcomes_port if self.nginx.outcomes_port is not None else self.port
        self.outcomes = OutcomeReceiver(
            outcomes_address(self.nginx.unix_socket) if self.nginx.unix_socket else self.options.host,
            port,
            lambda: self.holder.current,
            self.guardrails.recorder,
            self.metrics,
        )
        await self.outcomes.start()
        if self.link is not None:
            self.link.start()

    async def stop(self) -> None:
        if self.link is not None:
            await self.link.stop()
        if self.outcomes is not None:
            self.outcomes.stop()
        await super().stop()
