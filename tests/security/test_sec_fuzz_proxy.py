"""Property: whatever a client sends (headers, Host, query, cookies, bodies), the proxy answers
without a 5xx, never serves one visitor a page rendered for another's variant or another's
request, and never lets a client-chosen decision reach the origin.

The proxy and the echoing origin run on their own event loop in a thread; each example is one
raw HTTP/1.1 request over a socket, so nothing is normalised by a client library first."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from proxy_support import CONFIG, EchoOrigin

from edgesplit import load_config
from edgesplit.core import DecisionClaims, sign_token
from edgesplit.pipeline.request_hygiene import clean_query, normalize_path
from edgesplit.proxy.memory_outbox import MemoryOutbox
from edgesplit.proxy.service import ProxyOptions, ProxyService
from servers import KEYRING, ServerThread, known

VISITORS = [f"fuzz-visitor-{n:04d}" for n in range(6)]
PATHS = ["/cache/page", "/cache/b", "/checkout", "/echo", "/nocache/x", "/x/../cache/page", "/cache/./b"]
HOSTS_OK = ["shop.example", "shop.example:8080", "127.0.0.1", "[::1]:443"]
HOSTS_BAD = ["shop.example/cache/page", "h/internal?", "h#frag", "[::1", "evil@h", "h:99999", "a b"]
PARAMS = ["utm_source", "utm_x", "gclid", "keep", "lang", "__edgesplit", "edgesplit_force", "q"]
IGNORED = ("utm_*", "gclid", "fbclid", "msclkid")
UA_BOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"
UA_HUMAN = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"


class Running:
    def __init__(self, port: int, origin: EchoOrigin) -> None:
        self.port = port
        self.origin = origin
        self.references: dict[tuple[str, str, bool], dict[str, str]] = {}

    def __repr__(self) -> str:
        return f"Running(port={self.port})"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("fuzz")
    servers = ServerThread()
    origin = EchoOrigin()
    origin_port = servers.start(origin.app())
    config_path = Path(tmp / "config.json")
    config_path.write_text(json.dumps(CONFIG))

    async def start() -> ProxyService:
        options = ProxyOptions(
            origin=f"http://127.0.0.1:{origin_port}",
            port=0,
            config_path=str(config_path),
            queue_dir=str(tmp / "state"),
            guardrail_interval=3600.0,
        )
        service = ProxyService(options, known(load_config(str(config_path))), KEYRING, outbox=MemoryOutbox())
        await service.start()
        return service

    service = asyncio.run_coroutine_threadsafe(start(), servers.loop).result(30)
    try:
        yield Running(service.port, origin)
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), servers.loop).result(30)
        servers.stop()


def send(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode())
        response.begin()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def reference(running: Running, visitor: str, path: str, bot: bool) -> dict[str, str]:
    """The visitor's own assignments for a page, from a clean, uncacheable request."""
    key = (visitor, normalize_path(path), bot)
    if key not in running.references:
        raw = (
            f"POST {key[1]} HTTP/1.1\r\nHost: shop.example\r\nCookie: edgesplit_id={visitor}\r\n"
            f"User-Agent: {UA_BOT if bot else UA_HUMAN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()
        status, _, body = send(running.port, raw)
        assert status == 200
        running.references[key] = json.loads(body)["assignments"]
    return running.references[key]


def forged_token(visitor: str) -> str:
    now = int(time.time())
    claims = DecisionClaims(visitor, {"hero": "bold", "checkout": "two"}, "security-1", now, now + 600)
    return sign_token(claims, KEYRING)  # validly signed, but for someone else or replayed


header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "GET", "HEAD", "POST"]),
        "path": st.sampled_from(PATHS),
        "query": st.lists(
            st.tuples(
                st.sampled_from(PARAMS), header_values.map(lambda v: v.replace(" ", "+").replace("#", ""))
            ),
            max_size=4,
        ),
        "separator": st.sampled_from(["&", ";"]),
        "host": st.one_of(st.sampled_from(HOSTS_OK), st.sampled_from(HOSTS_BAD)),
        "visitor": st.one_of(st.sampled_from(VISITORS), st.none(), st.just("x"), st.just("../../etc")),
        "bot": st.booleans(),
        "hostile": st.dictionaries(
            st.sampled_from(
                [
                    "X-Forwarded-Host",
                    "X-Forwarded-Proto",
                    "X-Forwarded-For",
                    "Forwarded",
                    "X-Original-URL",
                    "X-HTTP-Method-Override",
                    "X_Forwarded_Host",
                    "x_edgesplit_decision",
                    "X-Edgesplit-Decision",
                    "Accept-Language",
                ]
            ),
            header_values,
            max_size=4,
        ),
        "forge": st.sampled_from([None, "header", "underscore", "cookie", "pin"]),
        "body": st.one_of(st.none(), st.binary(min_size=1, max_size=64)),
    }
)


def build(example: dict[str, Any]) -> bytes:
    query = example["separator"].join(f"{k}={v}" for k, v in example["query"])
    target = example["path"] + (f"?{query}" if query else "")
    headers = [("Host", example["host"]), ("User-Agent", UA_BOT if example["bot"] else UA_HUMAN)]
    cookies = []
    if example["visitor"] is not None:
        cookies.append(f"edgesplit_id={example['visitor']}")
    forged = forged_token(VISITORS[0])
    if example["forge"] == "header":
        headers.append(("X-Edgesplit-Decision", forged))
    elif example["forge"] == "underscore":
        headers.append(("x_edgesplit_decision", forged))
    elif example["forge"] == "cookie":
        cookies.append(f"edgesplit_decision={forged}")
    elif example["forge"] == "pin":
        cookies.append(f"edgesplit_pin={forged}")
    if cookies:
        headers.append(("Cookie", "; ".join(cookies)))
    headers.extend(example["hostile"].items())
    body = example["body"] or b""
    if body:
        headers.append(("Content-Length", str(len(body))))
    headers.append(("Connection", "close"))
    head = f"{example['method']} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(example=requests)
def test_fuzzed_requests_through_the_whole_proxy(running: Running, example: dict[str, Any]) -> None:
    status, headers, body = send(running.port, build(example))
    assert status < 500, (status, body[:300])
    if example["host"] in HOSTS_BAD:
        assert status == 400
        return
    if status != 200 or example["method"] == "HEAD":
        return
    page = json.loads(body)
    # Forwarding headers are edgesplit's: the client's never reach the origin (or the cache).
    assert page["x_forwarded_host"] == example["host"]
    assert page["x_forwarded_proto"] == "http"
    names = {name.lower() for name, _ in page["headers"]}
    assert not names & {"forwarded", "x-original-url", "x-http-method-override", "x_forwarded_host"}
    assert "x_edgesplit_decision" not in names
    # The query the page was rendered for is this request's, minus ignored parameters.
    raw_query = example["separator"].join(f"{k}={v}" for k, v in example["query"])
    rendered_for = parse_qsl(page["query_string"], keep_blank_values=True)
    assert rendered_for == parse_qsl(clean_query(raw_query, IGNORED), keep_blank_values=True)
    if headers.get("x-edgesplit-cache") == "HIT":
        assert page["body"] == ""  # a body never made it into a shared page
    # The decision the origin saw was edgesplit's, for this visitor's own variants.
    assert page["decision_header"] is None or page["verified"]
    if example["visitor"] in VISITORS:
        expected = reference(running, example["visitor"], example["path"], example["bot"])
        assert page["assignments"] == expected, (example, page["assignments"], expected)
        if headers.get("x-edgesplit-cache") != "HIT" and not example["bot"] and page["decision_header"]:
            assert page["visitor_id"] == example["visitor"]
