"""ManifestFetcher against a real HTTP server: fetched once, checked against the signed id,
failures not retried at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgesplit.core import Manifest
from edgesplit.integrations.app_middleware import ManifestFetcher

GOOD = Manifest.of([("hero", ["control", "bold"])])
OTHER = Manifest.of([("hero", ["control", "evil"])])


class Server:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.bodies: dict[str, bytes] = {}


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            body = state.bodies.get(self.path.rsplit("/", 1)[-1])
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_port}/__edgesplit/manifest/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_manifest_is_fetched_once(server: tuple[Server, str]) -> None:
    state, base = server
    state.bodies[GOOD.id] = GOOD.text.encode()
    fetcher = ManifestFetcher(base)
    assert fetcher(GOOD.id) == GOOD and fetcher(GOOD.id) == GOOD
    assert state.paths == [f"/__edgesplit/manifest/{GOOD.id}"]


def test_a_manifest_that_is_not_the_signed_one_is_refused(server: tuple[Server, str]) -> None:
    state, base = server
    state.bodies[GOOD.id] = OTHER.text.encode()  # an attacker (or a mix-up) between origin and edge
    assert ManifestFetcher(base)(GOOD.id) is None


def test_failures_wait_before_the_next_try(server: tuple[Server, str]) -> None:
    state, base = server
    clock = [100.0]
    fetcher = ManifestFetcher(base, retry_after=10, clock=lambda: clock[0])
    assert fetcher(GOOD.id) is None and fetcher(GOOD.id) is None
    assert len(state.paths) == 1
    state.bodies[GOOD.id] = GOOD.text.encode()
    clock[0] += 11
    assert fetcher(GOOD.id) == GOOD and len(state.paths) == 2


def test_ids_that_are_not_ids_are_never_fetched(server: tuple[Server, str]) -> None:
    state, base = server
    fetcher = ManifestFetcher(base)
    for bad in ("../status.json", "", "x" * 17, "a/b" + "c" * 13):
        assert fetcher(bad) is None
    assert state.paths == []


def test_an_unreachable_edgesplit_gives_none() -> None:
    assert ManifestFetcher("http://127.0.0.1:9/__edgesplit/manifest/", timeout=1)(GOOD.id) is None
