"""A vendor simulator for tests, the demo and load runs.

It accepts event batches in three formats: edgesplit's webhook (``POST /batch``), PostHog's
batch capture (``POST /posthog/batch/``) and Segment's batch API (``POST /segment/v1/batch``),
deduplicates them by idempotency key (``id``, ``uuid`` or ``messageId``), and reports what it
received at ``GET /stats``. Its
behaviour is switched at run time with ``POST /__sim/mode``::

    {"mode": "healthy" | "down" | "error" | "throttle" | "slow" | "flapping",
     "retry_after": 2, "delay": 3.0, "period": 1.0}

- ``down`` drops the connection without answering; ``error`` answers 503; ``throttle``
  answers 429 with ``Retry-After``; ``slow`` waits ``delay`` seconds before answering;
  ``flapping`` alternates healthy and down every ``period`` seconds; ``reject`` answers 400.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web

__all__ = ["VendorSimulator"]

MODES = ("healthy", "down", "error", "throttle", "slow", "flapping", "reject")


class VendorSimulator:
    def __init__(self) -> None:
        self.mode = "healthy"
        self.retry_after = 1
        self.delay = 2.0
        self.period = 1.0
        self.events: dict[str, dict[str, Any]] = {}
        self.received = 0
        self.duplicates = 0
        self.requests = Counter[str]()
        self._started = time.monotonic()

    def stats(self) -> dict[str, Any]:
        by_experiment: dict[str, Counter[str]] = {}
        by_type = Counter[str]()
        for event in self.events.values():
            by_type[event.get("type", "?")] += 1
            if event.get("type") == "exposure":
                by_experiment.setdefault(event["experiment"], Counter())[event["variant"]] += 1
        return {
            "mode": self.mode,
            "received": self.received,
            "unique": len(self.events),
            "duplicates": self.duplicates,
            "by_type": dict(by_type),
            "exposures": {k: dict(v) for k, v in by_experiment.items()},
            "requests": dict(self.requests),
        }

    def _effective_mode(self) -> str:
        if self.mode != "flapping":
            return self.mode
        phase = int((time.monotonic() - self._started) / self.period)
        return "healthy" if phase % 2 == 0 else "down"

    @staticmethod
    def _normalise(kind: str, item: dict[str, Any]) -> dict[str, Any] | None:
        """Any format's event as edgesplit's (id, type, experiment, variant), or None if malformed."""
        if kind == "webhook":
            return item if isinstance(item.get("id"), str) else None
        props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
        if kind == "posthog":
            if not isinstance(item.get("uuid"), str) or not isinstance(item.get("distinct_id"), str):
                return None
            if item.get("event") == "$feature_flag_called":
                return {
                    "id": item["uuid"],
                    "type": "exposure",
                    "experiment": props.get("$feature_flag"),
                    "variant": props.get("$feature_flag_response"),
                }
            return {"id": item["uuid"], "type": "conversion", "event": item.get("event")}
        if not isinstance(item.get("messageId"), str) or item.get("type") != "track":
            return None
        if item.get("event") == "Experiment Viewed":
            return {
                "id": item["messageId"],
                "type": "exposure",
                "experiment": props.get("experiment_id"),
                "variant": props.get("variation_id"),
            }
        return {"id": item["messageId"], "type": "conversion", "event": item.get("event")}

    async def _batch(self, request: web.Request) -> web.StreamResponse:
        return await self._receive(request, "webhook")

    async def _posthog(self, request: web.Request) -> web.StreamResponse:
        return await self._receive(request, "posthog")

    async def _segment(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Basic "):
            return web.json_response({"error": "missing write key"}, status=401)
        return await self._receive(request, "segment")

    async def _receive(self, request: web.Request, kind: str) -> web.StreamResponse:
        mode = self._effective_mode()
        self.requests[mode] += 1
        if mode == "down":
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        if mode == "reject":
            return web.json_response({"error": "invalid event payload"}, status=400)
        if mode == "error":
            return web.json_response({"error": "simulated outage"}, status=503)
        if mode == "throttle":
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": str(self.retry_after)}
            )
        if mode == "slow":
            await asyncio.sleep(self.delay)
        try:
            payload = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body must be JSON"}, status=400)
        batch = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(batch, list):
            return web.json_response({"error": 'expected {"batch": [...]}'}, status=400)
        normalised = [self._normalise(kind, item) if isinstance(item, dict) else None for item in batch]
        if any(event is None for event in normalised):
            return web.json_response({"error": "every event needs its idempotency key"}, status=400)
        self.requests[f"format:{kind}"] += 1
        for event in normalised:
            assert event is not None
            self.received += 1
            if event["id"] in self.events:
                self.duplicates += 1
            else:
                self.events[event["id"]] = event
        return web.json_response({"accepted": len(batch)})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _set_mode(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        if body.get("mode") not in MODES:
            return web.json_response({"error": f"mode must be one of {MODES}"}, status=400)
        self.mode = body["mode"]
        self.retry_after = int(body.get("retry_after", self.retry_after))
        self.delay = float(body.get("delay", self.delay))
        self.period = float(body.get("period", self.period))
        self._started = time.monotonic()
        return web.json_response({"mode": self.mode})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/batch", self._batch)
        app.router.add_post("/posthog/batch/", self._posthog)
        app.router.add_post("/segment/v1/batch", self._segment)
        app.router.add_get("/stats", self._stats)
        app.router.add_post("/__sim/mode", self._set_mode)
        return app
