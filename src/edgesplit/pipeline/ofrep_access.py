"""Who may call OFREP: API keys (by SHA-256), per-key rate limits, and the CORS allow-list."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from ..core.ofrep_settings import OfrepClient, OfrepSettings
from ..ports.http import Headers

__all__ = ["CORS_ALLOW_HEADERS", "RateLimiter", "cors_headers", "find_client", "presented_key"]

CORS_ALLOW_HEADERS = "authorization, content-type, if-none-match, x-api-key"
CORS_EXPOSE_HEADERS = "etag, retry-after"
CORS_MAX_AGE = "600"
MAX_KEY_LENGTH = 512


def presented_key(headers: Headers) -> str | None:
    """The API key from ``Authorization: Bearer <key>`` or OFREP's ``X-API-Key`` header."""
    authorization = headers.get("authorization") or ""
    scheme, _, value = authorization.partition(" ")
    key = value.strip() if scheme.lower() == "bearer" else (headers.get("x-api-key") or "").strip()
    return key if key and len(key) <= MAX_KEY_LENGTH else None


def find_client(settings: OfrepSettings, key: str | None) -> OfrepClient | None:
    """The configured client whose digest matches ``key`` (compared in constant time, all of them)."""
    if key is None:
        return None
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    found = None
    for client in settings.clients:
        if hmac.compare_digest(digest, client.key_sha256):
            found = client
    return found


def cors_headers(settings: OfrepSettings, origin: str | None) -> list[tuple[str, str]] | None:
    """The CORS response headers for an allowed ``Origin``; ``None`` for one not on the list."""
    if origin is None or origin not in settings.cors_origins:
        return None
    return [
        ("access-control-allow-origin", origin),
        ("access-control-expose-headers", CORS_EXPOSE_HEADERS),
        ("vary", "Origin"),
    ]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per client: up to ``requests_per_minute`` at once, refilled continuously.
    Kept per process (self-hosted) or per isolate (edge): a limit per machine, not global."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: OfrepClient, now: float) -> float:
        """0 when the request may go ahead, else the seconds until one may (Retry-After)."""
        capacity = float(client.requests_per_minute)
        rate = capacity / 60.0
        bucket = self._buckets.get(client.key_sha256)
        if bucket is None:
            bucket = self._buckets[client.key_sha256] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + max(0.0, now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return max(1.0, math.ceil((1.0 - bucket.tokens) / rate))

    def forget_others(self, settings: OfrepSettings) -> None:
        """Drop the buckets of clients no longer configured (bounded by the config)."""
        keep = {client.key_sha256 for client in settings.clients}
        for digest in [d for d in self._buckets if d not in keep]:
            del self._buckets[digest]
