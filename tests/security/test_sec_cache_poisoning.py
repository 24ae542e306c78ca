"""Issue 13, finding 2: a bot shares the all-control cache key with every all-control human, so
nothing a client sends may change a cached page without changing its key."""

from __future__ import annotations

from pathlib import Path

from proxy_support import BOT, body_of, running_proxy, status_of


async def test_client_x_forwarded_host_never_reaches_the_origin_or_the_cache(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        status, headers, page = await proxy.get(
            "/cache/page", headers={**BOT, "X-Forwarded-Host": "evil.example"}
        )
        assert status == 200 and page["x_forwarded_host"] == f"127.0.0.1:{proxy.port}"
        for n in range(6):  # humans, some of them in the bot's (all-control) vector
            _, headers, page = await proxy.get("/cache/page", f"human-{n:08d}")
            assert "evil.example" not in str(page)
        assert "evil.example" not in str(proxy.origin.seen)


async def test_trusted_upstream_keeps_its_forwarding_headers(tmp_path: Path) -> None:
    async with running_proxy(tmp_path, trusted_upstreams=("127.0.0.1",)) as proxy:
        _, _, page = await proxy.get(
            "/nocache/x", headers={"X-Forwarded-Host": "shop.example", "X-Forwarded-For": "203.0.113.9"}
        )
        assert page["x_forwarded_host"] == "shop.example"
        assert page["x_forwarded_for"] == "203.0.113.9, 127.0.0.1"


async def test_a_host_header_carrying_a_path_is_refused(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        evil = f'127.0.0.1:{proxy.port}/cache/page#"><script>alert(1)</script>'.encode()
        answer = await proxy.raw(b"GET /x HTTP/1.1\r\nHost: " + evil + b"\r\nUser-Agent: Googlebot\r\n\r\n")
        assert status_of(answer) == 400
        assert proxy.origin.seen == []
        _, _, page = await proxy.get("/cache/page", "human-00000001")
        assert "<script>" not in str(page)


async def test_ignored_query_parameters_do_not_reach_the_origin(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        await proxy.get("/cache/page?utm_source=%3Cscript%3E&gclid=x&keep=1", headers=BOT)
        assert proxy.origin.seen[-1]["query_string"] == "keep=1"
        _, headers, page = await proxy.get("/cache/page?keep=1", headers=BOT)
        assert headers["x-edgesplit-cache"] == "HIT" and "script" not in str(page)


async def test_semicolon_parameters_are_in_the_key_or_removed(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        await proxy.get("/cache/page?utm_x=1;lang=de", headers=BOT)
        assert proxy.origin.seen[-1]["query_string"] == "lang=de"
        _, headers, page = await proxy.get("/cache/page", headers=BOT)
        assert headers["x-edgesplit-cache"] != "HIT" and page["query_string"] == ""


async def test_a_body_on_a_get_makes_it_uncacheable(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        status, headers, page = await proxy.get("/cache/page", headers=BOT, data=b"<script>evil</script>")
        assert status == 200 and page["body"] == "<script>evil</script>"  # passed on, not cached
        assert "x-edgesplit-cache" not in headers
        _, headers, page = await proxy.get("/cache/page", headers=BOT)
        assert headers["x-edgesplit-cache"] == "MISS" and page["body"] == ""


async def test_absolute_form_targets_are_refused(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        answer = await proxy.raw(b"GET http://evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status_of(answer) == 400 and proxy.origin.seen == []


async def test_host_with_query_or_fragment_cannot_rewrite_the_origin_path(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        for host in (b"h/internal?", b"h#frag", b"h?x=1", b"[::1", b"h:99999", b"h@evil"):
            answer = await proxy.raw(b"GET /nocache/x HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
            assert status_of(answer) == 400, (host, answer[:200])
        assert proxy.origin.seen == []
        answer = await proxy.raw(b"GET /nocache/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        assert status_of(answer) == 200 and body_of(answer)["path"] == "/nocache/x"


async def test_dot_segments_are_removed_before_targeting(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        for target in (b"/x/../checkout", b"/x/%2e%2e/checkout", b"/./checkout"):
            answer = await proxy.raw(
                b"GET "
                + target
                + b" HTTP/1.1\r\nHost: shop.example\r\nCookie: edgesplit_id=dots-visitor-1\r\n\r\n"
            )
            page = body_of(answer)
            assert page["path"] == "/checkout", target
            assert "checkout" in page["assignments"], target  # targeted as the page served


async def test_underscore_alias_of_the_decision_header_is_stripped(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        answer = await proxy.raw(
            b"GET /nocache/plain HTTP/1.1\r\nHost: shop.example\r\nx_edgesplit_decision: replayed-token\r\n"
            b"X_Forwarded_Host: evil.example\r\n\r\n"
        )
        names = [name.lower() for name, _ in body_of(answer)["headers"]]
        assert "x_edgesplit_decision" not in names and "x_forwarded_host" not in names
