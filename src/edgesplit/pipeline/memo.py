"""Bounded memos for work the request path would otherwise redo for every request of a visitor:
verifying the same decision cookie, matching the same User-Agent against the bot patterns.

Each memo forgets everything once it is full (no per-hit bookkeeping, unlike an LRU; the hot
entries come straight back), so hostile input varying a key costs memory up to the bound only.
A hit is only taken when the objects it was computed from (keyring, config, pattern) are the
very ones in use now; a memo keeps them alive, so an identity cannot be reused by another.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from ..core import Config, DecisionClaims, Keyring, verify_token
from ..core.decision_token import DEFAULT_LEEWAY_SECONDS
from ..core.manifest import ManifestLookup

__all__ = ["BoundedMemo", "VerifiedTokens"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = value

    def __len__(self) -> int:
        return len(self._entries)


class VerifiedTokens:
    """``verify_token`` for tokens a visitor sends again and again: a token that verified once
    (same keyring, same running config) is not checked by HMAC and decoded again; its lifetime
    and its key's grace period are, against ``now``, exactly as ``verify_token`` checks them.
    Only valid tokens are remembered: junk cannot fill the memo faster than it is cleared."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._memo: BoundedMemo[str, tuple[Keyring, Config, DecisionClaims, float | None]] = BoundedMemo(
            max_entries
        )

    def claims(
        self, token: str, keyring: Keyring, config: Config, now: float, manifests: ManifestLookup
    ) -> DecisionClaims | None:
        hit = self._memo.get(token)
        if hit is not None and hit[0] is keyring and hit[1] is config:
            claims, verify_until = hit[2], hit[3]
            if verify_until is not None and now > verify_until:
                return None
            if (
                now >= claims.expires_at + DEFAULT_LEEWAY_SECONDS
                or claims.issued_at > now + DEFAULT_LEEWAY_SECONDS
            ):
                return None
            return claims
        result = verify_token(token, keyring, now, manifests=manifests)
        if not result.ok or result.claims is None:
            return None
        key = keyring.find(result.key_id or "")
        self._memo.put(token, (keyring, config, result.claims, key.verify_until if key is not None else None))
        return result.claims
