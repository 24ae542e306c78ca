"""The decision token: a compact, signed, versioned record of one visitor's assignments.

Format (ASCII, safe in a header and a cookie value)::

    es1.<key id>.<payload>.<signature>

``payload`` is base64url (no padding) of compact JSON with sorted keys::

    {"a": {"hero": "bold"}, "c": "<config version>", "exp": 1764000300, "iat": 1764000000,
     "o": ["price"], "v": "<visitor id>"}

- ``a``: experiment -> variant for every experiment that applies to the request;
- ``o``: (optional) experiments in ``a`` served their control without being in the experiment
  (paused, outside coverage or namespace, forced): they must not count in an analysis;
- ``h``: (optional) experiments in ``a`` whose control the visitor gets because it is in the
  global holdout (they are in ``o`` too); events mark the visitor held out in them;
- ``c`` config version, ``iat``/``exp`` issue and expiry (epoch seconds), ``v`` visitor id.

``signature`` is base64url of the key's signature over ``es1.<key id>.<payload>``. The
verifier picks the algorithm from its own keyring by key id, never from the token.

``es2.<key id>.<payload>.<signature>`` is the compact form (``compact_token.py``): the same
claims with experiments and variants as positions in a manifest (``manifest.py``) whose id is
signed in. It is signed when the claims carry a manifest; verifiers read both forms, so the
``es1`` cookies visitors carry keep verifying. Verifying ``es2`` needs the manifest
(``manifests=``); without it the token is refused as ``unknown_manifest``, never misread.

Both forms: ``exp`` before ``iat``, or more than ``MAX_LIFETIME_SECONDS`` after it, is refused
(``malformed``) even when the signature holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .b64 import b64url_decode, b64url_encode
from .compact_token import Packed, pack, unpack
from .keys import KEY_ID_PATTERN, Keyring
from .manifest import Manifest, ManifestLookup

__all__ = [
    "DecisionClaims",
    "Verification",
    "sign_token",
    "token_length_bound",
    "verify_token",
    "TOKEN_VERSION",
    "COMPACT_TOKEN_VERSION",
    "MAX_TOKEN_LENGTH",
    "MAX_LIFETIME_SECONDS",
    "REJECTION_REASONS",
]

TOKEN_VERSION = "es1"
COMPACT_TOKEN_VERSION = "es2"
MAX_TOKEN_LENGTH = 8192
MAX_LIFETIME_SECONDS = 400 * 86_400
"""Browsers keep no cookie longer than 400 days; a longer-lived token is a minting error."""
DEFAULT_LEEWAY_SECONDS = 60
REJECTION_REASONS = (
    "malformed",
    "unsupported_version",
    "unknown_key",
    "retired_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "unknown_manifest",
)


@dataclass(frozen=True, slots=True)
class DecisionClaims:
    visitor_id: str
    assignments: Mapping[str, str]
    config_version: str
    issued_at: int
    expires_at: int
    held_out: frozenset[str] = field(default_factory=frozenset)
    manifest: Manifest | None = field(default=None, compare=False, repr=False)
    """Set: signed as ``es2`` against this manifest (and set on claims read from ``es2``)."""
    holdout: frozenset[str] = field(default_factory=frozenset)
    """Experiments this visitor is held out of by the global holdout (``h`` in es1, an entry flag
    in es2)."""

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "a": dict(self.assignments),
            "c": self.config_version,
            "exp": self.expires_at,
            "iat": self.issued_at,
            "v": self.visitor_id,
        }
        if self.held_out:
            doc["o"] = sorted(self.held_out)
        if self.holdout:
            doc["h"] = sorted(self.holdout)
        if self.manifest is not None:
            doc["m"] = self.manifest.id
        return doc

    @classmethod
    def from_assignments(
        cls,
        visitor_id: str,
        assignments: Mapping[str, Any],
        config_version: str,
        now: float,
        ttl_seconds: int,
        manifest: Manifest | None = None,
    ) -> DecisionClaims:
        """Claims for the assignments ``assign`` returned (only those that apply are kept)."""
        applied = {key: a.variant for key, a in assignments.items() if a.variant is not None}
        held_out = frozenset(
            key for key, a in assignments.items() if a.variant is not None and not a.in_experiment
        )
        holdout = frozenset(key for key, a in assignments.items() if a.reason == "holdout")
        issued = int(now)
        return cls(
            visitor_id, applied, config_version, issued, issued + ttl_seconds, held_out, manifest, holdout
        )

    @classmethod
    def from_packed(cls, packed: Packed) -> DecisionClaims:
        return cls(
            packed.visitor_id,
            packed.assignments,
            packed.config_version,
            packed.issued_at,
            packed.expires_at,
            packed.held_out,
            packed.manifest,
            packed.holdout,
        )

    @classmethod
    def from_json(cls, doc: Any) -> DecisionClaims | None:
        """Claims from a decoded payload, or ``None`` when its shape is wrong."""
        if not isinstance(doc, dict) or not {"a", "c", "exp", "iat", "v"} <= doc.keys():
            return None
        assignments, held_out, holdout = doc["a"], doc.get("o", []), doc.get("h", [])
        times = (doc["iat"], doc["exp"])
        if not (
            isinstance(assignments, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in assignments.items())
            and isinstance(held_out, list)
            and all(isinstance(k, str) for k in held_out)
            and isinstance(holdout, list)
            and all(isinstance(k, str) for k in holdout)
            and isinstance(doc["c"], str)
            and isinstance(doc["v"], str)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in times)
        ):
            return None
        return cls(
            doc["v"],
            assignments,
            doc["c"],
            doc["iat"],
            doc["exp"],
            frozenset(held_out),
            holdout=frozenset(holdout),
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify_token`` found: ``ok`` and claims, or a ``reason`` (REJECTION_REASONS)."""

    ok: bool
    reason: str | None = None
    claims: DecisionClaims | None = None
    key_id: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def _payload(claims: DecisionClaims) -> tuple[str, bytes]:
    if claims.manifest is None:
        text = json.dumps(claims.to_json(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return TOKEN_VERSION, text.encode("utf-8", "surrogatepass")
    packed = pack(
        claims.manifest,
        visitor_id=claims.visitor_id,
        assignments=claims.assignments,
        held_out=claims.held_out,
        holdout=claims.holdout,
        config_version=claims.config_version,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
    )
    return COMPACT_TOKEN_VERSION, packed


def token_length_bound(claims: DecisionClaims) -> int:
    """The most characters these claims can take once signed, whatever the key (a 64-character
    id, a 64-byte Ed25519 signature)."""
    return len(TOKEN_VERSION) + 1 + 64 + 1 + -(-len(_payload(claims)[1]) * 4 // 3) + 1 + 86


def sign_token(claims: DecisionClaims, keyring: Keyring) -> str:
    """``es2`` when the claims carry a manifest, else ``es1``."""
    key = keyring.signer
    version, payload = _payload(claims)
    signing_input = f"{version}.{key.id}.{b64url_encode(payload)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def _es1_claims(payload: bytes) -> DecisionClaims | None:
    try:
        return DecisionClaims.from_json(json.loads(payload.decode("utf-8", "surrogatepass")))
    except (ValueError, RecursionError):
        return None


def _reject(reason: str, key_id: str | None = None) -> Verification:
    return Verification(False, reason, None, key_id)


def verify_token(
    token: Any,
    keyring: Keyring,
    now: float,
    *,
    leeway: float = DEFAULT_LEEWAY_SECONDS,
    manifests: ManifestLookup | None = None,
) -> Verification:
    """Check a token's form, key, signature and lifetime. Never raises.

    ``now`` is the caller's clock (epoch seconds); ``leeway`` absorbs clock skew between the
    edge that signed and the origin that verifies; ``manifests`` names an ``es2`` token's
    positions (a ``ManifestBook``, or any manifest id -> ``Manifest | None``).
    """
    # 1. Bounded, ASCII, four dot-separated parts.
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return _reject("malformed")
    parts = token.split(".")
    if len(parts) != 4:
        return _reject("malformed")
    version, key_id, payload_text, signature_text = parts
    if version not in (TOKEN_VERSION, COMPACT_TOKEN_VERSION):
        return _reject("unsupported_version")
    if KEY_ID_PATTERN.fullmatch(key_id) is None:
        return _reject("malformed")
    # 2. The key comes from our keyring; its grace period must not be over.
    key = keyring.find(key_id)
    if key is None:
        return _reject("unknown_key", key_id)
    if key.verify_until is not None and now > key.verify_until:
        return _reject("retired_key", key_id)
    # 3. The signature, before anything in the payload is trusted.
    signature = b64url_decode(signature_text)
    payload = b64url_decode(payload_text)
    if signature is None or payload is None:
        return _reject("malformed", key_id)
    if not key.verify(f"{version}.{key_id}.{payload_text}".encode("ascii"), signature):
        return _reject("bad_signature", key_id)
    # 4. The payload's shape and lifetime.
    if version == TOKEN_VERSION:
        claims = _es1_claims(payload)
    else:
        packed = unpack(payload, manifests)
        if isinstance(packed, str):
            return _reject(packed, key_id)
        claims = DecisionClaims.from_packed(packed)
    if claims is None or not 0 <= claims.expires_at - claims.issued_at <= MAX_LIFETIME_SECONDS:
        return _reject("malformed", key_id)
    if now >= claims.expires_at + leeway:
        return _reject("expired", key_id)
    if claims.issued_at > now + leeway:
        return _reject("not_yet_valid", key_id)
    return Verification(True, None, claims, key_id)
