"""Issue 13, finding 2: a bot shares the all-control cache key with every all-control human, so
nothing a client sends may change a cached page without changing its key. Here: what only raw
HTTP can send (Host values, absolute-form targets, dot segments, underscore names); forwarding
headers, ignored parameters and bodies on GET are tested on the pipeline
(tests/pipeline/test_flow_cache_hygiene.py)."""

from __future__ import annotations

from pathlib import Path

from proxy_support import body_of, running_proxy, status_of


async def test_a_host_header_carrying_a_path_is_refused(tmp_path: Path) -> None:
    async with running_proxy(tmp_path) as proxy:
        evil = f'127.0.0.1:{proxy.port}/cache/page#"><script>alert(1)</script>'.encode()
        answer = await proxy.raw(b"GET /x HTTP/1.1\r\nHost: " + evil + b"\r\nUser-Agent: Googlebot\r\n\r\n")
        assert status_of(answer) == 400
        assert proxy.origin.seen == []
        _, _, page = await proxy.get("/cache/page", "human-00000001")
        assert "<script>" not in str(page)


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
