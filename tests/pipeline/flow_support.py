"""A ``Pipeline`` on the fakes of ``edgesplit.pipeline.testing``, with the proxy's real in-process
cache, and an origin that renders the decision it was sent (like ``tests/servers.TestOrigin``,
without a socket). Also runs inside Pyodide."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from edgesplit.core import ConfigHolder, assign, parse_config, verify_token
from edgesplit.pipeline import Pipeline, ProxyRequest, ProxyResponse
from edgesplit.pipeline.manifests import manifests_for
from edgesplit.pipeline.parts import PipelineOptions, PipelinePorts, Shared
from edgesplit.pipeline.testing import (
    CheckedCache,
    FakeClock,
    FakeOrigin,
    FakeStatus,
    InlineBackground,
    RecordingObserver,
    RecordingOutbox,
    read,
    request,
    respond,
)
from edgesplit.proxy.cache import MemoryCache
from shared_documents import CONFIG, DECISION_HEADER, KEYRING

NOW = 1_795_000_000.0
"""The fake clock's start: every time in these tests is relative to it (tokens, sessions, caps)."""
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"}
ADMIN_TOKEN = "pipeline-tests-admin-token-0123456789abcdef"


def copy_of(document: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(document))


@dataclass
class Rendered:
    """What the rendering origin answers: the decision it received, checked."""

    status: int
    headers: Any
    body: Any

    @property
    def assignments(self) -> dict[str, str]:
        return self.body["assignments"]


@dataclass
class Flow:
    pipeline: Pipeline
    holder: ConfigHolder
    origin: FakeOrigin
    outbox: RecordingOutbox
    background: InlineBackground
    clock: FakeClock
    cache: CheckedCache
    observer: RecordingObserver
    status: FakeStatus
    fetches: Counter[str] = field(default_factory=Counter)

    @property
    def metrics(self) -> Any:
        return self.pipeline.metrics

    def metric(self, name: str, **labels: str) -> float:
        return self.pipeline.metrics.value(name, **labels)

    async def send(self, message: ProxyRequest) -> tuple[ProxyResponse, bytes]:
        response = await self.pipeline.handle(message)
        return response, await read(response.body)

    async def get(
        self,
        path: str,
        visitor: str | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: bytes | None = None,
        client_ip: str = "192.0.2.10",
    ) -> Rendered:
        all_headers = {**BROWSER, **(headers or {})}
        if visitor is not None:
            all_headers["cookie"] = "; ".join(
                filter(None, [f"edgesplit_id={visitor}", all_headers.get("cookie")])
            )
        response, raw = await self.send(
            request(method, "http://shop.test" + path, all_headers, body, client_ip=client_ip)
        )
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw
        return Rendered(response.status, response.headers, parsed)

    async def track(
        self, report: Any, headers: dict[str, str] | None = None, client_ip: str = "192.0.2.10"
    ) -> tuple[int, Any]:
        data = (
            report
            if isinstance(report, bytes)
            else (report if isinstance(report, str) else json.dumps(report))
        )
        body = data.encode() if isinstance(data, str) else data
        all_headers = {"content-type": "application/json", **(headers or {})}
        message = request(
            "POST", "http://shop.test/__edgesplit/track", all_headers, body, client_ip=client_ip
        )
        response, raw = await self.send(message)
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    async def token(self, visitor: str, path: str = "/page/home") -> str:
        """The decision token a visitor's browser holds after one page view."""
        page = await self.get(path, visitor)
        return set_cookie(page.headers, "edgesplit_decision")

    def verify(self, token: str | None) -> Any:
        """The token checked as an origin checks it (keyring, manifests of the running config)."""
        return verify_token(token, KEYRING, self.clock.now(), manifests=manifests_for(self.holder.current))

    def expected(self, visitor: str, path: str) -> dict[str, str]:
        config = self.holder.current
        return {
            k: a.variant for k, a in assign(config, visitor, {"path": path}).items() if a.variant is not None
        }


def set_cookie(headers: Any, name: str) -> str:
    """The value of the one ``Set-Cookie`` for ``name``."""
    [cookie] = [c for c in headers.get_all("set-cookie") if c.startswith(name + "=")]
    return cookie.split(";")[0].split("=", 1)[1]


def rendering_origin(
    flow_box: list[Flow], clock: FakeClock
) -> Callable[[ProxyRequest], Awaitable[ProxyResponse]]:
    """Renders the verified decision; ``/nocache`` pages are not shareable, ``/private`` is
    private, ``/cookie-page`` sets a cookie, ``/error`` is a 500 and ``/echo`` shows the request."""

    async def handler(message: ProxyRequest) -> ProxyResponse:
        flow = flow_box[0]
        path = message.path
        flow.fetches[path] += 1
        token = message.headers.get(DECISION_HEADER)
        config = flow.holder.current
        result = verify_token(token, KEYRING, clock.now(), manifests=manifests_for(config)) if token else None
        received = await read(message.body)
        info = {
            "path": path,
            "fetch": flow.fetches[path],
            "decision_header": token,
            "verified": bool(result and result.ok),
            "assignments": dict(result.claims.assignments) if result and result.claims else {},
            "visitor_id": result.claims.visitor_id if result and result.claims else None,
            "config_version": result.claims.config_version if result and result.claims else None,
            "method": message.method,
            "headers": message.headers.items(),
            "body": received.decode("utf-8", "replace"),
        }
        cache_control = {"/private": "private, max-age=60"}.get(path, "public, max-age=10, s-maxage=60")
        if path.startswith("/nocache") or path == "/echo":
            cache_control = "no-store"
        headers = [("content-type", "application/json"), ("cache-control", cache_control)]
        if path == "/cookie-page":
            headers.append(("set-cookie", "origin_session=abc; Path=/"))
        return respond(500 if path == "/error" else 200, json.dumps(info).encode(), headers)

    return handler


def make_flow(
    document: dict[str, Any] | None = None,
    *,
    admin_token: str | None = None,
    handler: Callable[[ProxyRequest], Awaitable[ProxyResponse]] | None = None,
    shared: Callable[[FakeClock], Shared] | None = None,
    max_entry_bytes: int = 2 << 20,
    **ports: Any,
) -> Flow:
    """A pipeline on fakes; ``ports`` replaces any of ``PipelinePorts``' optional parts."""
    clock = FakeClock(NOW)
    holder = ConfigHolder(parse_config(copy_of(document or CONFIG)))
    box: list[Flow] = []
    origin = FakeOrigin(handler or rendering_origin(box, clock))
    outbox, background, observer, status = (
        RecordingOutbox(),
        InlineBackground(),
        RecordingObserver(),
        FakeStatus(),
    )
    cache = CheckedCache(MemoryCache(clock, max_entry_bytes=max_entry_bytes))
    counter = iter(range(1, 1_000_000))
    parts = {"cache": cache, "observer": observer, "status": status} | ports
    pipeline = Pipeline(
        config=holder,
        keyring=KEYRING,
        ports=PipelinePorts(origin=origin, outbox=outbox, background=background, **parts),
        shared=(shared or (lambda c: Shared.create(c, lambda: f"new-visitor-{next(counter):06d}")))(clock),
        options=PipelineOptions(admin_token=admin_token),
    )
    flow = Flow(pipeline, holder, origin, outbox, background, clock, cache, observer, status)
    box.append(flow)
    return flow
