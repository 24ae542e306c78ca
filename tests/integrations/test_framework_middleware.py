"""The origin helpers in real Starlette, Flask and Django apps, receiving requests through the
self-hosted proxy: the variant the proxy decided arrives verified; forged headers do not."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import aiohttp
import pytest

from edgesplit import load_config
from edgesplit.core import assign
from edgesplit.integrations.app_middleware import (
    WSGI_KEY,
    EdgesplitMiddleware,
    EdgesplitWSGIMiddleware,
    ManifestFetcher,
    variant,
)
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import CONFIG, KEYRING

flask = pytest.importorskip("flask")
starlette_applications = pytest.importorskip("starlette.applications")
uvicorn = pytest.importorskip("uvicorn")
django_conf = pytest.importorskip("django.conf")

CONFIG_OBJ = load_config(CONFIG)
# Compact decisions name experiments by position: the origins fetch the names from the proxy's
# published manifest (its port is known once the proxy runs).
MANIFESTS = ManifestFetcher("http://127.0.0.1:9/not-started/")


def answer(decision) -> dict:  # noqa: ANN001
    return {"variant": variant(decision, "hero"), "ok": decision.ok, "reason": decision.reason}


def flask_app(require: bool) -> object:
    app = flask.Flask("edgesplit-test")

    @app.get("/page/<name>")
    def page(name: str) -> object:
        return flask.jsonify(answer(flask.request.environ[WSGI_KEY]))

    app.wsgi_app = EdgesplitWSGIMiddleware(app.wsgi_app, KEYRING, require=require, manifests=MANIFESTS)  # type: ignore[method-assign]
    return app


def django_app(require: bool) -> object:
    if not django_conf.settings.configured:
        django_conf.settings.configure(
            DEBUG=False,
            SECRET_KEY="x" * 50,
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
        )
        import django

        django.setup()
    from django.core.wsgi import get_wsgi_application

    return EdgesplitWSGIMiddleware(get_wsgi_application(), KEYRING, require=require, manifests=MANIFESTS)


def _django_view(request, name: str):  # noqa: ANN001, ANN202
    from django.http import JsonResponse

    return JsonResponse(answer(request.META[WSGI_KEY]))


def _urlpatterns() -> list:
    from django.urls import path

    return [path("page/<str:name>", _django_view)]


def starlette_app(require: bool) -> object:
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def page(request):  # noqa: ANN001, ANN202
        return JSONResponse(answer(request.state.edgesplit))

    app = starlette_applications.Starlette(routes=[Route("/page/{name}", page)])
    app.add_middleware(EdgesplitMiddleware, keyring=KEYRING, require=require, manifests=MANIFESTS)
    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _ThreadedWSGIServer(WSGIServer):
    daemon_threads = True


def serve(framework: str, require: bool) -> Iterator[int]:
    if framework == "starlette":
        config = uvicorn.Config(starlette_app(require), host="127.0.0.1", port=0, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield port
        finally:
            server.should_exit = True
            thread.join(5)
        return
    app = flask_app(require) if framework == "flask" else django_app(require)
    wsgi = make_server("127.0.0.1", 0, app, server_class=_ThreadedWSGIServer, handler_class=_Quiet)
    thread = threading.Thread(target=wsgi.serve_forever, daemon=True)
    thread.start()
    try:
        yield wsgi.server_port
    finally:
        wsgi.shutdown()
        wsgi.server_close()


def direct(port: int, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/page/direct", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize("framework", ["starlette", "flask", "django"])
async def test_decisions_arrive_verified_through_the_proxy(framework: str, tmp_path: Path) -> None:
    server = serve(framework, require=False)
    port = next(server)
    service = ProxyService(
        ProxyOptions(origin=f"http://127.0.0.1:{port}", port=0, queue_dir=str(tmp_path)),
        CONFIG_OBJ,
        KEYRING,
        outbox=MemoryOutbox(),
    )
    await service.start()
    MANIFESTS.base_url = f"http://127.0.0.1:{service.port}/__edgesplit/manifest/"
    MANIFESTS._failed.clear()  # noqa: SLF001 - the fetcher remembers failures; this origin is new
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
            for n in range(20):
                visitor = f"{framework}-visitor-{n:04d}"
                async with client.get(
                    f"http://127.0.0.1:{service.port}/page/home",
                    headers={
                        "Cookie": f"edgesplit_id={visitor}",
                        "User-Agent": "Mozilla/5.0",
                        "x-edgesplit-decision": "es1.test-key.forged.AAAA",
                    },
                ) as resp:
                    body = await resp.json()
                want = assign(CONFIG_OBJ, visitor, {"path": "/page/home"})["hero"].variant
                assert body == {"variant": want, "ok": True, "reason": None}
        # Straight to the origin, around the proxy: forged or missing headers are never trusted.
        assert direct(port, {"x-edgesplit-decision": "es1.test-key.e30.AAAA"})[1] == {
            "variant": "control",
            "ok": False,
            "reason": "bad_signature",
        }
        assert direct(port, {})[1] == {"variant": "control", "ok": False, "reason": "missing"}
    finally:
        await service.stop()
        next(server, None)


@pytest.mark.parametrize("framework", ["starlette", "flask", "django"])
def test_require_refuses_requests_without_a_valid_decision(framework: str) -> None:
    server = serve(framework, require=True)
    port = next(server)
    try:
        status, body = direct(port, {"x-edgesplit-decision": "garbage"})
        assert status == 403 and body == {"error": "no valid edgesplit decision: malformed"}
    finally:
        next(server, None)


urlpatterns = _urlpatterns() if django_conf is not None else []
