"""Manifests for origins that do not hold the config: fetched from edgesplit's published
``<admin prefix>/manifest/<id>``, each once, and trusted only when its hash is the signed id.

Only a token whose signature already verified asks for a manifest, so a visitor cannot make
the origin fetch at will; a failed fetch is not retried for ``retry_after`` seconds, so an
unreachable edgesplit costs one timeout per manifest id per that interval, not per request.
The fetch is a blocking ``urllib`` call (once per manifest id), so that the WSGI and ASGI
helpers share one synchronous verifier.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from ..core import Manifest, ManifestBook
from ..core.manifest import MANIFEST_ID_PATTERN, MAX_MANIFEST_BYTES

__all__ = ["ManifestFetcher"]


def _urllib_get(url: str, timeout: float) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read(MAX_MANIFEST_BYTES + 1) if response.status == 200 else None
    except (OSError, ValueError):
        return None


class ManifestFetcher:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 2.0,
        retry_after: float = 10.0,
        get: Callable[[str, float], bytes | None] = _urllib_get,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.retry_after = retry_after
        self.book = ManifestBook()
        self._get = get
        self._clock = clock
        self._failed: dict[str, float] = {}

    def __call__(self, manifest_id: str) -> Manifest | None:
        known = self.book(manifest_id)
        if known is not None or MANIFEST_ID_PATTERN.fullmatch(manifest_id) is None:
            return known
        failed_at = self._failed.get(manifest_id)
        if failed_at is not None and self._clock() - failed_at < self.retry_after:
            return None
        body = self._get(self.base_url.rstrip("/") + "/" + manifest_id, self.timeout)
        manifest = Manifest.parse(body) if body is not None else None
        if manifest is None or manifest.id != manifest_id:
            if len(self._failed) >= 256:
                self._failed.clear()
            self._failed[manifest_id] = self._clock()
            return None
        self._failed.pop(manifest_id, None)
        return self.book.add(manifest)
