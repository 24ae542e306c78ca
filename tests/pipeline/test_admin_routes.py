"""``AdminRoutes`` on its own and behind ``Pipeline.handle``: health, metrics, the status page and
its sign-in, lockouts, the scripts, manifests and the trace switch (also runs inside Pyodide)."""

from __future__ import annotations

import json
from pathlib import Path

from flow_support import ADMIN_TOKEN, BROWSER, CONFIG, copy_of, make_flow
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core import ConfigHolder, assign, parse_config
from edgesplit.core.guardrail_rules import Totals
from edgesplit.pipeline import Metrics, ProxyRequest, ProxyResponse
from edgesplit.pipeline.admin import AdminRoutes
from edgesplit.pipeline.admin_guard import AdminGuard, AdminLimits
from edgesplit.pipeline.client_script import CLIENT_SCRIPT
from edgesplit.pipeline.manifests import manifest_for
from edgesplit.pipeline.testing import FakeClock, FakeStatus, read, request, respond, run, virtual_time
from edgesplit.pipeline.trace import DEBUG_COOKIE, debug_cookie_value
from edgesplit.ports.http import plain_response
from edgesplit.status import StatusData
from edgesplit.status.access import ADMIN_COOKIE, SESSION_SECONDS, session_value

PREFIX = "/__edgesplit"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


class Routes:
    """``AdminRoutes`` built by hand, with a ``/track`` stand-in and the fakes."""

    def __init__(self, admin_token: str | None = ADMIN_TOKEN, limits: AdminLimits | None = None) -> None:
        self.clock = FakeClock(1_795_000_000.0)
        self.metrics = Metrics()
        self.holder = ConfigHolder(parse_config(copy_of(CONFIG)))
        self.status = FakeStatus(StatusData(totals={"hero": {"control": Totals(7, 2), "bold": Totals(5, 1)}}))
        self.failures: list[tuple[str, BaseException]] = []
        self.tracked: list[ProxyRequest] = []
        self.before_metrics_calls = 0
        self.routes = AdminRoutes(
            config=self.holder,
            metrics=self.metrics,
            clock=self.clock,
            admin_token=admin_token,
            status=self.status,
            before_metrics=self._before_metrics,
            track=self._track,
            fail_open=lambda stage, exc: self.failures.append((stage, exc)),
            guard=AdminGuard(limits) if limits else None,
        )

    def _before_metrics(self) -> None:
        self.before_metrics_calls += 1

    async def _track(self, message: ProxyRequest) -> ProxyResponse:
        self.tracked.append(message)
        return plain_response(202, "{}")

    async def call(
        self,
        subpath: str,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        client_ip: str = "192.0.2.10",
    ) -> tuple[ProxyResponse, bytes]:
        message = request(
            method, f"http://shop.test{PREFIX}{subpath}", headers or {}, body, client_ip=client_ip
        )
        response = await self.routes.handle(message, PREFIX, subpath)
        return response, await read(response.body)


@virtual_time
async def test_health_says_which_config_runs_and_how_many_were_refused() -> None:
    routes = Routes(admin_token=None)
    routes.holder.offer({"schema_version": 1, "version": "bad", "experiments": [{"key": "x"}]})
    response, body = await routes.call("/health")
    assert response.status == 200 and response.headers.get("cache-control") == "no-store"
    assert json.loads(body) == {
        "status": "ok",
        "config_version": "e2e-1",
        "experiments": 3,
        "config_refused": 1,
    }


@virtual_time
async def test_unknown_admin_paths_are_404_and_track_goes_to_the_track_endpoint() -> None:
    routes = Routes()
    response, _ = await routes.call("/nothing-here")
    assert response.status == 404
    response, _ = await routes.call("/track", method="POST", body=b"{}")
    assert response.status == 202 and len(routes.tracked) == 1


@virtual_time
async def test_metrics_are_open_without_an_admin_token() -> None:
    routes = Routes(admin_token=None)
    routes.metrics.inc("edgesplit_requests_total", outcome="proxied")
    response, body = await routes.call("/metrics")
    text = body.decode()
    assert response.status == 200 and (response.headers.get("content-type") or "").startswith(
        "text/plain; version=0.0.4"
    )
    assert 'edgesplit_requests_total{outcome="proxied"} 1' in text
    assert 'edgesplit_request_duration_seconds_bucket{le="+Inf"}' in text
    assert routes.before_metrics_calls == 1
    assert 'edgesplit_variant_exposures{experiment="hero",variant="control"} 7' in text
    assert 'edgesplit_variant_conversions{experiment="hero",variant="bold"} 1' in text


@virtual_time
async def test_metrics_need_the_token_when_one_is_configured_and_count_wrong_ones() -> None:
    routes = Routes()
    for n in range(3):
        response, _ = await routes.call("/metrics", headers={"authorization": f"Bearer wrong-{n}"})
        assert response.status == 401
    response, _ = await routes.call("/metrics")
    assert response.status == 401
    assert routes.metrics.value("edgesplit_admin_denied_total") == 4
    assert routes.before_metrics_calls == 0  # nothing gathered for a refused caller
    response, _ = await routes.call("/metrics", headers=AUTH)
    assert response.status == 200


@virtual_time
async def test_a_weak_admin_token_closes_the_admin_pages_instead_of_opening_them() -> None:
    routes = Routes(admin_token="hunter2")
    for subpath in ("/metrics", "/status", "/status.json"):
        response, body = await routes.call(subpath, headers={"authorization": "Bearer hunter2"})
        assert response.status == 503 and b"at least 32 characters" in body


@virtual_time
async def test_wrong_tokens_lock_the_address_out_even_for_the_right_one() -> None:
    routes = Routes()
    for n in range(10):
        response, _ = await routes.call("/status", method="POST", body=f"token=guess-{n}".encode())
        assert response.status == 401
    response, _ = await routes.call("/status", method="POST", body=f"token={ADMIN_TOKEN}".encode())
    assert response.status == 429 and int(response.headers.get("retry-after") or 0) > 0
    response, _ = await routes.call("/metrics", headers=AUTH)
    assert response.status == 429  # locked: even the right token learns nothing
    response, _ = await routes.call("/metrics", headers=AUTH, client_ip="198.51.100.1")
    assert response.status == 200  # another address is not locked
    assert routes.metrics.value("edgesplit_admin_locked_out_total") == 2
    assert routes.metrics.value("edgesplit_admin_denied_total") == 10
    routes.clock.advance(AdminLimits().lockout_seconds + 1)
    response, _ = await routes.call("/metrics", headers=AUTH)
    assert response.status == 200  # the lockout ends


@virtual_time
async def test_the_status_page_is_off_without_a_token_and_asks_for_one_with() -> None:
    response, body = await Routes(admin_token=None).call("/status")
    assert response.status == 404 and b"admin token" in body
    routes = Routes()
    response, body = await routes.call("/status")
    assert response.status == 401 and b'name="token"' in body
    assert "default-src 'none'" in (response.headers.get("content-security-policy") or "")
    assert response.headers.get("x-frame-options") == "DENY"
    response, body = await routes.call("/status.json")
    assert response.status == 401 and json.loads(body) == {"error": "admin token required"}
    response, _ = await routes.call("/status.json", method="DELETE", headers=AUTH)
    assert response.status == 405
    assert routes.metrics.value("edgesplit_admin_denied_total") == 2


@virtual_time
async def test_signing_in_sets_a_session_cookie_that_opens_the_pages_until_it_expires() -> None:
    routes = Routes()
    response, _ = await routes.call("/status", method="POST", body=b"token=wrong")
    assert response.status == 401 and response.headers.get_all("set-cookie") == []
    response, _ = await routes.call("/status", method="POST", body=f"token={ADMIN_TOKEN}".encode())
    assert response.status == 303 and response.headers.get("location") == f"{PREFIX}/status"
    [cookie] = response.headers.get_all("set-cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={PREFIX}" in cookie
    assert ADMIN_TOKEN not in cookie
    session = {"cookie": cookie.split(";")[0]}
    response, body = await routes.call("/status", headers=session)
    assert response.status == 200 and b"edgesplit status" in body and b"hero" in body
    response, _ = await routes.call("/metrics", headers=session)
    assert response.status == 200
    routes.clock.advance(SESSION_SECONDS + 1)
    response, _ = await routes.call("/status.json", headers=session)
    assert response.status == 401


@virtual_time
async def test_a_session_made_for_another_token_opens_nothing() -> None:
    routes = Routes()
    forged = session_value("some-other-admin-token-0123456789abcdef", routes.clock.now())
    response, _ = await routes.call("/status.json", headers={"cookie": f"{ADMIN_COOKIE}={forged}"})
    assert response.status == 401


@virtual_time
async def test_status_json_shows_the_gathered_numbers_for_the_running_experiments() -> None:
    routes = Routes()
    response, body = await routes.call("/status.json", headers=AUTH)
    report = json.loads(body)
    hero = next(e for e in report["experiments"] if e["key"] == "hero")
    assert {v["key"]: v["exposures"] for v in hero["variants"]} == {"control": 7, "bold": 5}
    assert routes.status.asked == [(["hero", "shop", "elsewhere"], routes.clock.now())]


@virtual_time
async def test_a_failing_status_source_shows_what_is_known() -> None:
    routes = Routes()
    routes.status.fail = RuntimeError("counters unreachable")
    response, body = await routes.call("/status.json", headers=AUTH)
    assert response.status == 200 and "hero" in [e["key"] for e in json.loads(body)["experiments"]]
    assert [stage for stage, _ in routes.failures] == ["status"]


@virtual_time
async def test_the_client_script_and_verifier_are_served_and_cacheable() -> None:
    routes = Routes()
    response, body = await routes.call("/client.js")
    assert response.status == 200 and (response.headers.get("content-type") or "").startswith(
        "text/javascript"
    )
    assert body.decode() == CLIENT_SCRIPT and response.headers.get("cache-control") == "public, max-age=300"
    response, body = await routes.call("/verify.mjs")
    assert response.status == 200 and b"export async function verifyDecision" in body


@virtual_time
async def test_manifests_are_served_for_known_ids_only() -> None:
    flow = make_flow()
    manifest_id = manifest_for(flow.holder.current).id
    response, body = await flow.send(request("GET", f"http://shop.test{PREFIX}/manifest/{manifest_id}"))
    assert response.status == 200 and "hero" in [entry[0] for entry in json.loads(body)["experiments"]]
    response, _ = await flow.send(request("GET", f"http://shop.test{PREFIX}/manifest/not-an-id"))
    assert response.status == 404


@virtual_time
async def test_the_debug_switch_needs_a_session_and_sets_a_site_wide_cookie() -> None:
    assert (await Routes(admin_token=None).call("/debug", method="POST"))[0].status == 404
    routes = Routes()
    assert (await routes.call("/debug"))[0].status == 405
    assert (await routes.call("/debug", method="POST", body=b"trace=on"))[0].status == 401
    response, _ = await routes.call("/debug", method="POST", headers=AUTH, body=b"trace=on")
    assert response.status == 303
    [cookie] = response.headers.get_all("set-cookie")
    assert cookie.startswith(f"{DEBUG_COOKIE}=") and "Path=/;" in cookie + ";" and "HttpOnly" in cookie
    response, _ = await routes.call("/debug", method="POST", headers=AUTH, body=b"trace=off")
    assert "Max-Age=0" in response.headers.get_all("set-cookie")[0]


@virtual_time
async def test_a_trace_explains_the_decision_for_the_admin_only_and_is_never_cached() -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    visitor = "trace-visitor-7"
    traced = await flow.get("/page/shop-1", visitor, headers={"x-edgesplit-trace": ADMIN_TOKEN})
    trace = json.loads(traced.headers.get("x-edgesplit-trace") or "{}")
    assert trace["config_version"] == "e2e-1" and trace["visitor"] == visitor and trace["cache"] == "MISS"
    config = flow.holder.current
    expected = assign(config, visitor, {"path": "/page/shop-1"})
    for key in ("hero", "shop"):
        entry = trace["experiments"][key]
        assert (entry["variant"], entry["reason"], entry["in"]) == (
            expected[key].variant,
            expected[key].reason,
            True,
        )
        assert entry["bucket"] == round(config.experiment(key).hasher(visitor), 6)
        assert entry["targeting"] == {"path": True}
    assert trace["experiments"]["elsewhere"]["reason"] == "not_targeted"
    assert trace["experiments"]["elsewhere"]["targeting"] == {"path": False}
    assert traced.headers.get("cache-control") == "private, no-store"
    assert "x-edgesplit-trace" not in dict(flow.origin.requests[-1].headers)  # never forwarded
    for headers in ({}, {"x-edgesplit-trace": "wrong"}, {"x-edgesplit-trace": ADMIN_TOKEN[:-1]}):
        page = await flow.get("/page/shop-1", visitor, headers=headers)
        assert page.headers.get("x-edgesplit-cache") == "HIT" and "x-edgesplit-trace" not in page.headers
    again = await flow.get("/page/shop-1", visitor, headers={"x-edgesplit-trace": ADMIN_TOKEN})
    assert json.loads(again.headers.get("x-edgesplit-trace") or "{}")["cache"] == "HIT"


@virtual_time
async def test_no_trace_without_an_admin_token_configured() -> None:
    flow = make_flow()
    for value in ("", "anything", ADMIN_TOKEN):
        page = await flow.get("/page/home", "trace-v1", headers={"x-edgesplit-trace": value})
        assert "x-edgesplit-trace" not in page.headers


@virtual_time
async def test_an_origin_cannot_send_a_trace_of_its_own() -> None:
    async def handler(message: ProxyRequest) -> ProxyResponse:
        return respond(200, b"page", {"x-edgesplit-trace": '{"forged": true}', "cache-control": "no-store"})

    flow = make_flow(handler=handler)
    page = await flow.get("/page/home", "trace-v2", headers=BROWSER)
    assert "x-edgesplit-trace" not in page.headers


@virtual_time
async def test_the_metrics_count_what_the_pipeline_did() -> None:
    flow = make_flow()
    await flow.get("/page/home", "visitor-abcdef12")
    metrics = await flow.get("/__edgesplit/metrics")
    text = metrics.body.decode()
    assert 'edgesplit_requests_total{outcome="proxied"} 1' in text
    assert "edgesplit_decisions_total 1" in text
    assert 'edgesplit_request_duration_seconds_bucket{le="+Inf"} 1' in text


def test_the_served_client_script_is_the_published_file() -> None:
    published = Path(__file__).resolve().parents[2] / "js" / "edgesplit-client.js"
    assert published.read_text() == CLIENT_SCRIPT


@virtual_time
async def test_the_trace_token_and_the_debug_cookie_never_reach_the_origin() -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    debug = debug_cookie_value(ADMIN_TOKEN, flow.clock.now())
    page = await flow.get(
        "/echo",
        headers={
            "x-edgesplit-trace": ADMIN_TOKEN,
            "cookie": f"edgesplit_id=e1; {DEBUG_COOKIE}={debug}; keep=1",
        },
    )
    assert "x-edgesplit-trace" in page.headers
    forwarded = dict(page.body["headers"])
    assert "x-edgesplit-trace" not in forwarded
    assert DEBUG_COOKIE not in forwarded.get("cookie", "") and "keep=1" in forwarded["cookie"]
    assert ADMIN_TOKEN not in json.dumps(page.body)


@virtual_time
async def test_the_status_page_sets_a_debug_cookie_that_traces_this_browser() -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    url = f"http://shop.test{PREFIX}/debug"
    refused, _ = await flow.send(request("POST", url, {}, b"trace=on"))
    assert refused.status == 401 and refused.headers.get_all("set-cookie") == []
    response, _ = await flow.send(request("POST", url, AUTH, b"trace=on"))
    assert response.status == 303 and response.headers.get("location") == f"{PREFIX}/status"
    [cookie] = response.headers.get_all("set-cookie")
    assert ADMIN_TOKEN not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    page = await flow.get(
        "/page/home", headers={"cookie": f"edgesplit_id=debug-visitor-1; {DEBUG_COOKIE}={value}"}
    )
    assert json.loads(page.headers.get("x-edgesplit-trace") or "{}")["visitor"] == "debug-visitor-1"
    status, body = await flow.send(request("GET", f"http://shop.test{PREFIX}/status", AUTH))
    assert status.status == 200 and b'action="debug"' in body


@virtual_time
async def test_forged_expired_and_swapped_cookies_never_switch_tracing_on() -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    now = flow.clock.now()
    candidates = [
        debug_cookie_value(ADMIN_TOKEN, now - 2 * 3600),  # expired
        debug_cookie_value("another-admin-token-entirely-0123456789", now),  # another token
        f"{int(now) + 600}.{'0' * 64}",  # forged
        session_value(ADMIN_TOKEN, now),  # the admin session cookie is not a debug cookie
    ]
    for value in candidates:
        page = await flow.get("/page/home", headers={"cookie": f"edgesplit_id=f1; {DEBUG_COOKIE}={value}"})
        assert "x-edgesplit-trace" not in page.headers, value
    debug = debug_cookie_value(ADMIN_TOKEN, now)  # ...and a debug cookie opens no admin page
    status = await flow.get(f"{PREFIX}/status.json", headers={"cookie": f"{ADMIN_COOKIE}={debug}"})
    assert status.status == 401


@settings(deadline=None, max_examples=50)  # each example builds a pipeline (slower in Pyodide)
@given(
    header=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=60),
    cookie=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=";,"), max_size=100
    ),
)
def test_no_guessed_header_or_cookie_switches_tracing_on(header: str, cookie: str) -> None:
    flow = make_flow(admin_token=ADMIN_TOKEN)
    page = run(
        flow.get(
            "/page/home",
            headers={"x-edgesplit-trace": header, "cookie": f"edgesplit_id=g1; {DEBUG_COOKIE}={cookie}"},
        )
    )
    assert page.status == 200 and "x-edgesplit-trace" not in page.headers
