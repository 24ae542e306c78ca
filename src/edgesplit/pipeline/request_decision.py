"""The decision half of the request flow, shared by the proxy (``flow.Pipeline``) and the decision
service nginx asks behind ``auth_request`` (``edgesplit decide``): strip what the client forged,
decide (falling back open), sign, emit exposures, and the cookies to set.

Nothing here touches the origin or the cache: those are the shell's (the proxy's own, or nginx's).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core import Config, Keyring, sign_token
from ..ports import OutboxPort
from ..ports.http import Headers, ProxyRequest, strip_hop_by_hop
from ..ports.metrics import Metrics
from .cookies import parse_cookie_header, remove_cookie
from .decide import NO_DECISION, Decision, control_decision, decide
from .trace import DEBUG_COOKIE, TRACE_HEADER

__all__ = ["ClientInput", "DecisionSteps", "client_input", "decision_cookies"]

FailOpenReport = Callable[[str, BaseException], None]


class ClientInput:
    """A request's headers as the origin may see them, and the cookies as the client sent them."""

    __slots__ = ("headers", "cookies")

    def __init__(self, headers: Headers, cookies: dict[str, str]) -> None:
        self.headers = headers
        self.cookies = cookies


def client_input(request: ProxyRequest, config: Config) -> ClientInput:
    """Hop-by-hop fields, the client's own decision header and the decision and pin cookies are
    removed from what goes on (only edgesplit speaks for edgesplit), and so are the trace switches
    (the admin token and the debug cookie never reach the origin); the cookies are parsed."""
    decision = config.settings.decision
    headers = request.headers.copy()
    strip_hop_by_hop(headers)
    headers.remove(decision.header, TRACE_HEADER)
    cookie_header = "; ".join(headers.get_all("cookie")) or None
    cookies = parse_cookie_header(cookie_header)
    forwarded_cookies = remove_cookie(cookie_header, {decision.cookie, decision.pin_cookie, DEBUG_COOKIE})
    headers.remove("cookie")
    if forwarded_cookies:
        headers.set("cookie", forwarded_cookies)
    return ClientInput(headers, cookies)


def decision_cookies(decision: Decision) -> list[str]:
    """The Set-Cookie values a decision asks for: the visitor cookie, then the decision cookie."""
    return [cookie for cookie in (decision.set_cookie, decision.decision_cookie) if cookie is not None]


class DecisionSteps:
    """Decide, sign and emit with every failure served open (counted, logged once)."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        outbox: OutboxPort,
        metrics: Metrics,
        now: Callable[[], float],
        new_id: Callable[[], str],
        exposure_window_seconds: int,
        fail_open: FailOpenReport,
    ) -> None:
        self.keyring = keyring
        self.outbox = outbox
        self.metrics = metrics
        self.now = now
        self.new_id = new_id
        self.exposure_window_seconds = exposure_window_seconds
        self.fail_open = fail_open

    def decide(self, request: ProxyRequest, given: ClientInput, config: Config) -> Decision:
        try:
            decision = decide(
                request,
                given.headers,
                given.cookies,
                config,
                self.keyring,
                now=self.now(),
                new_id=self.new_id,
                exposure_window_seconds=self.exposure_window_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - fail open: the page matters more than the test
            self.fail_open("decide", exc)
            decision = self.fallback(request, given, config)
        if decision.claims is not None:
            self.metrics.inc("edgesplit_decisions_total")
        if decision.bot:
            self.metrics.inc("edgesplit_bots_total", signal=decision.bot)
        return decision

    def fallback(self, request: ProxyRequest, given: ClientInput, config: Config) -> Decision:
        if config.settings.decision.on_failure != "control":
            return NO_DECISION
        try:
            return control_decision(request, given.headers, given.cookies, config, self.now())
        except Exception as exc:  # noqa: BLE001 - e.g. the keyring itself: then no decision at all
            self.fail_open("control_decision", exc)
            return NO_DECISION

    def sign(self, decision: Decision) -> str | None:
        """The decision header's value, or None (no decision, or a keyring problem: the page goes
        without one)."""
        if decision.claims is None:
            return None
        try:
            return sign_token(decision.claims, self.keyring)
        except Exception as exc:  # noqa: BLE001
            self.fail_open("sign", exc)
            return None

    def emit(self, decision: Decision) -> None:
        if not decision.exposures:
            return
        try:
            self.outbox.submit(list(decision.exposures))
            self.metrics.inc("edgesplit_exposures_total", len(decision.exposures))
        except Exception as exc:  # noqa: BLE001
            self.fail_open("outbox", exc)
