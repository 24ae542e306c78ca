"""``POST {admin prefix}/track``: conversions, drift reports and OFREP exposures, checked
(``track.parse_track``), capped and deduplicated (``track_guard``), then handed to the outbox and
the guardrail counts. Bad reports are refused with a status and a reason from a fixed vocabulary
(they become metric labels, and no token is needed to send one)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..core import ConfigHolder
from ..ports import Clock, ObserverPort
from ..ports.http import ProxyRequest, ProxyResponse, plain_response
from ..ports.metrics import Metrics
from .cookies import parse_cookie_header
from .decide import Decision
from .manifests import manifests_for
from .request_decision import DecisionSteps
from .track import MAX_TRACK_BODY, TrackError, parse_track
from .track_guard import TrackGuard, report_token, token_reason_label, track_reason_label

__all__ = ["TrackEndpoint"]

log = logging.getLogger("edgesplit.pipeline")


class TrackEndpoint:
    def __init__(
        self,
        *,
        config: ConfigHolder,
        steps: DecisionSteps,
        clock: Clock,
        metrics: Metrics,
        guard: TrackGuard,
        observer: ObserverPort | None,
        fail_open: Callable[[str, BaseException], None],
    ) -> None:
        self.config = config
        self.steps = steps
        """Where the keyring that verifies tokens and the outbox that takes events are."""
        self.clock = clock
        self.metrics = metrics
        self.guard = guard
        self.observer = observer
        self.fail_open = fail_open

    async def __call__(self, request: ProxyRequest) -> ProxyResponse:
        if request.method != "POST":
            return plain_response(405, "405 Method Not Allowed: POST a JSON conversion\n")
        if not self.guard.admit_client(request.client_ip, self.clock.now()):
            return self._refused(TrackError(429, "rate_limited: too many reports from this address"))
        body = await request.read_body(MAX_TRACK_BODY) if request.read_body is not None else None
        config = self.config.current
        decision_settings = config.settings.decision
        cookies = parse_cookie_header("; ".join(request.headers.get_all("cookie")) or None)
        fallback = cookies.get(decision_settings.cookie) or request.headers.get(decision_settings.header)
        if body is None:
            return self._refused(TrackError(413, f"body larger than {MAX_TRACK_BODY} bytes"))
        result = parse_track(body, fallback, self.steps.keyring, self.clock.now(), manifests_for(config))
        if isinstance(result, TrackError):
            return self._refused(result)
        verdict = self.guard.admit(result, report_token(body, fallback), self.clock.now())
        if verdict == "duplicate":  # a retry: it worked the first time, and counts once
            self.metrics.inc("edgesplit_track_duplicates_total")
            return _accepted({"accepted": result["id"], "duplicate": True})
        if verdict is not None:
            return self._refused(TrackError(429, f"{verdict}: too many reports for this visitor"))
        try:
            self.steps.outbox.submit([result])
        except Exception as exc:  # noqa: BLE001
            self.fail_open("outbox", exc)
            return plain_response(
                503, json.dumps({"error": "events cannot be taken right now"}) + "\n", "application/json"
            )
        self._count(result)
        return _accepted({"accepted": result["id"]})

    def _count(self, result: dict[str, Any]) -> None:
        if result["type"] == "drift":
            self.metrics.inc("edgesplit_drift_total", experiment=result["properties"]["experiment"])
            log.warning("drift reported: %s", result["properties"])
        elif result["type"] == "exposure":  # reported by an OFREP client: counted like a page's
            self.metrics.inc("edgesplit_exposures_total")
            self._observe(lambda observer: observer.request_done(Decision(exposures=(result,)), 200, 0.0))
        else:
            self.metrics.inc("edgesplit_conversions_total")
            self._observe(lambda observer: observer.conversion(result))

    def _observe(self, call: Callable[[ObserverPort], None]) -> None:
        if self.observer is None:
            return
        try:
            call(self.observer)
        except Exception as exc:  # noqa: BLE001 - counting must never cost the report
            self.fail_open("observer", exc)

    def _refused(self, error: TrackError) -> ProxyResponse:
        self.metrics.inc("edgesplit_track_rejected_total", reason=track_reason_label(error.reason))
        if error.status == 401:
            self.metrics.inc("edgesplit_tokens_rejected_total", reason=token_reason_label(error.reason))
        return plain_response(error.status, json.dumps({"error": error.reason}) + "\n", "application/json")


def _accepted(reply: dict[str, Any]) -> ProxyResponse:
    return plain_response(202, json.dumps(reply) + "\n", "application/json")
