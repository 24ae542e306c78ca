"""The origin port over aiohttp's client: streamed both ways, bounded by timeouts, with
aiohttp's errors translated once, here, into the pipeline's OriginTimeout/OriginUnavailable."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from ..pipeline import Headers, OriginTimeout, OriginUnavailable, ProxyRequest, ProxyResponse
from ..ports.http import ClosingStream

__all__ = ["AiohttpOrigin", "CHUNK_SIZE"]

CHUNK_SIZE = 64 * 1024


class AiohttpOrigin:
    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        preserve_host: bool = False,
        max_connections: int = 256,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"origin must be an http(s) URL, not {base_url!r}")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.host = parts.netloc
        self.preserve_host = preserve_host
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, enable_cleanup_closed=True)
            # Bytes pass through as the origin sent them: no decompression, no cookie jar.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(self, request: ProxyRequest) -> ProxyResponse:
        parts = urlsplit(request.url)
        target = self.base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = request.headers.copy()
        if request.origin_url is not None:  # a cross-origin rewrite: the pipeline set its Host
            target = request.origin_url
        elif not self.preserve_host:
            headers.set("host", self.host)
        if request.body is None:
            headers.remove("content-length")
        try:
            response = await self._session_now().request(
                request.method,
                target,
                headers=headers.items(),
                data=request.body,
                allow_redirects=False,
                timeout=self.timeout,
                compress=None,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise OriginTimeout(f"{request.method} {target}: no answer in time") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise OriginUnavailable(f"{request.method} {target}: {exc.__class__.__name__}: {exc}") from exc
        out_headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers)
        if request.method == "HEAD" or response.status in (204, 304):
            response.release()
            return ProxyResponse(response.status, out_headers, None)
        # Released when the body has streamed by, or when the server closes it unsent.
        return ProxyResponse(
            response.status,
            out_headers,
            ClosingStream(response.content.iter_chunked(CHUNK_SIZE), response.release),
        )
