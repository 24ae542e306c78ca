"""edgesplit's own endpoints under the admin prefix (default ``/__edgesplit``):

==================  ======  =====================================================================
path                auth    what
==================  ======  =====================================================================
``/health``         none    liveness, config version, refused config updates
``/metrics``        token   Prometheus text (incl. per-variant exposures/conversions)
``/status``         token   the status page (GET), its sign-in form (POST ``token=...``)
``/status.json``    token   the same numbers as JSON
``/track``          token*  conversions and drift reports (*the visitor's decision token)
``/client.js``      none    the browser script: reads assignments, detects drift
``/verify.mjs``     none    the token verifier it imports (also usable on its own)
``/ofrep/v1/...``   API key OFREP evaluation (off by default; docs/ofrep.md)
``/debug``          token   POST: sets or clears the browser's decision-trace cookie
``/manifest/<id>``  none    the names behind compact (es2) tokens (docs/decision-tokens.md)
==================  ======  =====================================================================

"token" is the admin token (``Authorization: Bearer`` or the signed-in session cookie); without
an admin token configured, ``/metrics`` is open and the status page is off.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from ..core import ConfigHolder
from ..ports import Clock
from ..ports.http import Headers, ProxyRequest, ProxyResponse, plain_response
from ..ports.metrics import Metrics
from ..status import StatusData, build_report
from ..status.access import ADMIN_COOKIE, SESSION_SECONDS, authorized, session_value, token_from_form
from ..status.page import STATUS_CSP, render_login_page, render_status_page
from ..status.report import StatusSource
from .admin_guard import AdminGuard, admin_token_problem
from .client_script import CLIENT_SCRIPT, VERIFY_MODULE
from .cookies import format_set_cookie, parse_cookie_header
from .manifests import manifest_response
from .trace import debug_cookie_response

__all__ = ["AdminRoutes"]


def _html(status: int, html: str) -> ProxyResponse:
    response = plain_response(status, html, "text/html; charset=utf-8")
    response.headers.set("content-security-policy", STATUS_CSP)
    response.headers.set("x-frame-options", "DENY")
    response.headers.set("referrer-policy", "no-referrer")
    return response


class AdminRoutes:
    def __init__(
        self,
        *,
        config: ConfigHolder,
        metrics: Metrics,
        clock: Clock,
        admin_token: str | None,
        status: StatusSource | None,
        before_metrics: Callable[[], None] | None,
        track: Callable[[ProxyRequest], Awaitable[ProxyResponse]],
        fail_open: Callable[[str, BaseException], None],
        ofrep: Callable[[ProxyRequest, str], Awaitable[ProxyResponse]] | None = None,
        guard: AdminGuard | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.admin_token = admin_token
        self.status = status
        self.before_metrics = before_metrics
        self.track = track
        self.fail_open = fail_open
        self.ofrep = ofrep
        self.guard = guard or AdminGuard()

    def _refusal(self, request: ProxyRequest) -> ProxyResponse | None:
        """503 for a weak admin token, 429 while this address is locked out (admin_guard)."""
        problem = admin_token_problem(self.admin_token)
        if problem is not None:
            return plain_response(503, f"503 Service Unavailable: {problem}\n")
        wait = self.guard.retry_after(request.client_ip, self.clock.now())
        if wait is None:
            return None
        self.metrics.inc("edgesplit_admin_locked_out_total")
        response = plain_response(429, "429 Too Many Requests: too many wrong admin tokens, try later\n")
        response.headers.set("retry-after", str(wait))
        return response

    def _denied(self, request: ProxyRequest) -> None:
        self.metrics.inc("edgesplit_admin_denied_total")
        self.guard.failed(request.client_ip, self.clock.now())

    async def handle(self, request: ProxyRequest, prefix: str, subpath: str) -> ProxyResponse:
        if subpath == "/track":
            return await self.track(request)
        if subpath.startswith("/ofrep/") and self.ofrep is not None:
            return await self.ofrep(request, subpath)
        if subpath == "/health":
            return self._health()
        if subpath in ("/client.js", "/verify.mjs"):
            script = CLIENT_SCRIPT if subpath == "/client.js" else VERIFY_MODULE
            response = plain_response(200, script, "text/javascript; charset=utf-8")
            response.headers.set("cache-control", "public, max-age=300")
            return response
        if subpath.startswith("/manifest/"):
            return manifest_response(self.config.current, subpath[len("/manifest/") :])
        if subpath == "/metrics":
            return await self._metrics(request)
        if subpath == "/debug":
            return await self._debug(request, prefix)
        if subpath in ("/status", "/status.json"):
            return await self._status(request, prefix + "/status", subpath.endswith(".json"))
        return plain_response(404, "404 Not Found\n")

    def _health(self) -> ProxyResponse:
        config = self.config.current
        body = {
            "status": "ok",
            "config_version": config.version,
            "experiments": len(config.experiments),
            "config_refused": self.config.refused,
        }
        return plain_response(200, json.dumps(body) + "\n", "application/json")

    def _authorized(self, request: ProxyRequest) -> bool:
        cookies = parse_cookie_header("; ".join(request.headers.get_all("cookie")) or None)
        return authorized(request.headers.get("authorization"), cookies, self.admin_token, self.clock.now())

    async def _gather(self) -> StatusData:
        if self.status is None:
            return StatusData()
        try:
            keys = [experiment.key for experiment in self.config.current.experiments]
            return await self.status.gather(keys, self.clock.now())
        except Exception as exc:  # noqa: BLE001 - show what is known rather than nothing
            self.fail_open("status", exc)
            return StatusData()

    async def _metrics(self, request: ProxyRequest) -> ProxyResponse:
        if self.admin_token:
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
            if not self._authorized(request):
                self._denied(request)
                return plain_response(401, "401 Unauthorized: send Authorization: Bearer <admin token>\n")
        self.metrics.set_gauge("edgesplit_config_refused", self.config.refused)
        if self.before_metrics is not None:
            self.before_metrics()
        if self.status is not None:
            data = await self._gather()
            for experiment, variants in data.totals.items():
                for variant, totals in variants.items():
                    labels = {"experiment": experiment, "variant": variant}
                    self.metrics.set_gauge("edgesplit_variant_exposures", totals.exposures, **labels)
                    self.metrics.set_gauge("edgesplit_variant_conversions", totals.conversions, **labels)
        return plain_response(200, self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")

    async def _status(self, request: ProxyRequest, path: str, as_json: bool) -> ProxyResponse:
        if not self.admin_token:
            return plain_response(
                404, "404 Not Found: the status page is off until an admin token is configured\n"
            )
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if request.method == "POST" and not as_json:
            return await self._sign_in(request, path)
        if request.method not in ("GET", "HEAD"):
            return plain_response(405, "405 Method Not Allowed\n")
        if not self._authorized(request):
            self._denied(request)
            if as_json:
                return plain_response(
                    401, json.dumps({"error": "admin token required"}) + "\n", "application/json"
                )
            return _html(401, render_login_page(path))
        config = self.config.current
        report = build_report(config, await self._gather(), self.clock.now(), self.config.refused)
        if as_json:
            return plain_response(200, json.dumps(report, indent=1) + "\n", "application/json")
        return _html(200, render_status_page(report))

    async def _debug(self, request: ProxyRequest, prefix: str) -> ProxyResponse:
        if not self.admin_token:
            return plain_response(404, "404 Not Found: tracing is off until an admin token is configured\n")
        if request.method != "POST":
            return plain_response(405, "405 Method Not Allowed: POST trace=on or trace=off\n")
        if not self._authorized(request):
            self.metrics.inc("edgesplit_admin_denied_total")
            return plain_response(401, "401 Unauthorized: sign in to the status page first\n")
        secure = self.config.current.settings.identity.secure
        return await debug_cookie_response(
            request, prefix + "/status", self.admin_token, self.clock.now(), secure
        )

    async def _sign_in(self, request: ProxyRequest, path: str) -> ProxyResponse:
        body = await request.read_body(4096) if request.read_body is not None else None
        token = token_from_form(body) if body is not None else None
        assert self.admin_token is not None
        if token is None or not authorized(f"Bearer {token}", {}, self.admin_token, self.clock.now()):
            self._denied(request)
            return _html(401, render_login_page(path, "That token is not the admin token."))
        cookie = format_set_cookie(
            ADMIN_COOKIE,
            session_value(self.admin_token, self.clock.now()),
            max_age=SESSION_SECONDS,
            path=path.rsplit("/", 1)[0] or "/",
            secure=self.config.current.settings.identity.secure,
            http_only=True,
            same_site="Strict",
        )
        return ProxyResponse(
            303,
            Headers(
                [
                    ("location", path),
                    ("set-cookie", cookie),
                    ("cache-control", "no-store"),
                    ("content-length", "0"),
                ]
            ),
            b"",
        )
