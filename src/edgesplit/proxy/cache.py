"""The self-hosted proxy's per-variant HTTP cache: in-process, LRU within a byte budget.

Bodies are stored as they stream to the first client (never buffered before sending), and
only once complete and within ``max_entry_bytes``. Entries honour ``Vary`` by keeping the
request's values of the varied headers next to each stored response.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ..pipeline import Clock, Headers, ProxyRequest, ProxyResponse
from ..ports.http import ClosingStream

__all__ = ["MemoryCache"]


@dataclass(slots=True)
class _Entry:
    status: int
    headers: Headers
    body: bytes
    stored_at: float
    expires_at: float
    vary: tuple[tuple[str, str], ...]

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 128


def _vary_values(response_headers: Headers, request: ProxyRequest) -> tuple[tuple[str, str], ...]:
    names = sorted(
        {
            name.strip().lower()
            for value in response_headers.get_all("vary")
            for name in value.split(",")
            if name.strip()
        }
    )
    return tuple((name, request.headers.get(name, "") or "") for name in names)


class MemoryCache:
    def __init__(self, clock: Clock, *, max_bytes: int = 64 << 20, max_entry_bytes: int = 2 << 20) -> None:
        self.clock = clock
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[str, list[_Entry]] = OrderedDict()
        self.size = 0

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    async def lookup(self, key: str, request: ProxyRequest) -> ProxyResponse | None:
        entries = self._entries.get(key)
        if not entries:
            return None
        now = self.clock.now()
        for entry in list(entries):
            if entry.expires_at <= now:
                self._drop(key, entry)
                continue
            if all((request.headers.get(name, "") or "") == value for name, value in entry.vary):
                self._entries.move_to_end(key)
                headers = entry.headers.copy()
                headers.set("age", str(math.floor(now - entry.stored_at)))
                return ProxyResponse(entry.status, headers, entry.body)
        return None

    def store(
        self,
        key: str,
        request: ProxyRequest,
        response: ProxyResponse,
        ttl: int,
        stored: Callable[[], None] | None = None,
    ) -> ProxyResponse:
        stored_at = self.clock.now()
        vary = _vary_values(response.headers, request)
        headers = response.headers.copy()

        def insert(body: bytes) -> None:
            entry = _Entry(response.status, headers, body, stored_at, stored_at + ttl, vary)
            if entry.size > self.max_entry_bytes:
                return
            for old in list(self._entries.get(key, [])):
                if old.vary == vary:
                    self._drop(key, old)
            self._entries.setdefault(key, []).append(entry)
            self._entries.move_to_end(key)
            self.size += entry.size
            self._evict()

        body = response.body
        if body is None or isinstance(body, (bytes, bytearray)):
            insert(bytes(body or b""))
            if stored is not None:
                stored()
            return response
        teed = self._tee(body, insert)
        # ClosingStream calls ``stored`` also when the body is closed unread (the client left).
        response.body = ClosingStream(teed, stored) if stored is not None else teed
        return response

    async def _tee(self, body: AsyncIterator[bytes], insert: Callable[[bytes], None]) -> AsyncIterator[bytes]:
        chunks: list[bytes] | None = []
        size = 0
        async for chunk in body:
            if chunks is not None:
                size += len(chunk)
                if size > self.max_entry_bytes:
                    chunks = None  # too large to keep: stream on, store nothing
                else:
                    chunks.append(chunk)
            yield chunk
        if chunks is not None:  # only a body that streamed to its end is stored
            insert(b"".join(chunks))

    def _drop(self, key: str, entry: _Entry) -> None:
        entries = self._entries.get(key, [])
        if entry in entries:
            entries.remove(entry)
            self.size -= entry.size
        if not entries:
            self._entries.pop(key, None)

    def _evict(self) -> None:
        while self.size > self.max_bytes and self._entries:
            key, entries = next(iter(self._entries.items()))
            self._drop(key, entries[0])
