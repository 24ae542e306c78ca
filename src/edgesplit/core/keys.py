"""Signing keys and the keyring that rotates them.

A keyring document (kept in a secret, never in the experiment config)::

    {"keys": [
      {"id": "2026-11", "secret": "<base64url of >= 32 random bytes>"},
      {"id": "2026-10", "secret": "...", "verify_until": "2026-12-07T00:00:00Z"}
    ]}

The first key signs. Every other key only verifies, until its ``verify_until`` (the grace
period of a rotation) or, without one, until it is removed. ``alg`` is ``HS256`` (default) or
``EdDSA``; an EdDSA key carries ``private_key`` (32-byte seed) to sign or only ``public_key``
to verify, and needs an Ed25519 backend (``edgesplit.ed25519`` on CPython).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .b64 import b64url_decode, b64url_encode
from .errors import KeyringError
from .validation import Reader, child_path

__all__ = [
    "browser_keys",
    "HmacKey",
    "Keyring",
    "SigningKey",
    "parse_keyring",
    "parse_keyring_text",
    "parse_utc_timestamp",
    "MIN_SECRET_BYTES",
    "KEY_ID_PATTERN",
]

MIN_SECRET_BYTES = 32
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_KEYS = 32


class SigningKey(Protocol):
    id: str
    alg: str
    verify_until: float | None

    @property
    def can_sign(self) -> bool: ...

    def sign(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class HmacKey:
    """HMAC-SHA256 with a secret of at least 32 bytes; verification is constant-time."""

    alg = "HS256"
    __slots__ = ("id", "verify_until", "_secret")

    def __init__(self, key_id: str, secret: bytes, verify_until: float | None = None) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise KeyringError(
                f"key {key_id!r}: secret is {len(secret)} bytes; at least {MIN_SECRET_BYTES} are required"
            )
        self.id = key_id
        self.verify_until = verify_until
        self._secret = bytes(secret)

    @property
    def can_sign(self) -> bool:
        return True

    def sign(self, message: bytes) -> bytes:
        return hmac.digest(self._secret, message, "sha256")  # one call: no HMAC object per token

    def verify(self, message: bytes, signature: bytes) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    def __repr__(self) -> str:  # never print the secret
        return f"HmacKey(id={self.id!r}, verify_until={self.verify_until!r})"


Ed25519Factory = Callable[[str, "bytes | None", "bytes | None", "float | None"], SigningKey]


@dataclass(frozen=True)
class Keyring:
    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("a keyring needs at least one key")
        if not self.keys[0].can_sign or self.keys[0].verify_until is not None:
            raise KeyringError(
                f"the first key ({self.keys[0].id!r}) signs: it needs a private secret and no verify_until"
            )
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyringError("key ids must be unique")

    @property
    def signer(self) -> SigningKey:
        return self.keys[0]

    def find(self, key_id: str) -> SigningKey | None:
        for key in self.keys:
            if key.id == key_id:
                return key
        return None


def browser_keys(keyring: Keyring) -> dict[str, dict[str, Any]]:
    """The keyring's public keys in the form ``edgesplit-verify.mjs`` and the browser client
    take (``data-keys``). HMAC keys are secrets and never appear; an HMAC-only keyring gives
    ``{}`` and the browser reads its assignments unverified."""
    keys: dict[str, dict[str, Any]] = {}
    for key in keyring.keys:
        public = getattr(key, "public_key_bytes", None)
        if key.alg != "EdDSA" or not isinstance(public, bytes):
            continue
        spec: dict[str, Any] = {"alg": "EdDSA", "publicKey": b64url_encode(public)}
        if key.verify_until is not None:
            spec["verifyUntil"] = key.verify_until
        keys[key.id] = spec
    return keys


def parse_utc_timestamp(text: str) -> float:
    """``"2026-12-07T00:00:00Z"`` -> epoch seconds. A timezone is required."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("needs a timezone, e.g. a trailing 'Z'")
    return moment.timestamp()


def _decoded(reader: Reader, obj: Mapping[str, Any], name: str, path: str) -> bytes | None:
    if name not in obj:
        return None
    text = reader.expect_str(obj[name], child_path(path, name), max_length=4096)
    if text is None:
        return None
    data = b64url_decode(text.rstrip("="))
    if data is None:
        reader.fail(child_path(path, name), "must be base64url")
    return data


def _parse_key(reader: Reader, item: Any, path: str, ed25519: Ed25519Factory | None) -> SigningKey | None:
    obj = reader.expect_object(
        item,
        path,
        required=("id",),
        optional=("alg", "secret", "private_key", "public_key", "verify_until"),
    )
    if obj is None or "id" not in obj:
        return None
    key_id = reader.expect_str(
        obj["id"],
        child_path(path, "id"),
        max_length=64,
        pattern=KEY_ID_PATTERN,
        pattern_help="1-64 letters, digits, '.', '_' or '-'",
    )
    alg = reader.expect_choice(obj.get("alg", "HS256"), child_path(path, "alg"), ("HS256", "EdDSA"))
    verify_until = None
    if "verify_until" in obj:
        text = reader.expect_str(obj["verify_until"], child_path(path, "verify_until"), max_length=64)
        try:
            verify_until = parse_utc_timestamp(text) if text is not None else None
        except ValueError as exc:
            reader.fail(child_path(path, "verify_until"), f"must be an ISO 8601 time with zone: {exc}")
    if key_id is None or alg is None:
        return None
    try:
        if alg == "HS256":
            secret = _decoded(reader, obj, "secret", path)
            if "secret" not in obj:
                reader.fail(child_path(path, "secret"), "is required for HS256")
            return HmacKey(key_id, secret, verify_until) if secret is not None else None
        private = _decoded(reader, obj, "private_key", path)
        public = _decoded(reader, obj, "public_key", path)
        if private is None and public is None:
            reader.fail(path, "an EdDSA key needs private_key or public_key")
            return None
        if ed25519 is None:
            reader.fail(
                child_path(path, "alg"),
                "EdDSA needs an Ed25519 backend (install edgesplit[ed25519])",
            )
            return None
        return ed25519(key_id, private, public, verify_until)
    except KeyringError as exc:
        reader.fail(path, str(exc))
        return None


def parse_keyring(document: Any, *, ed25519: Ed25519Factory | None = None) -> Keyring:
    reader = Reader()
    obj = reader.expect_object(document, "", required=("keys",))
    items = (
        reader.expect_list(obj["keys"], "keys", min_items=1, max_items=MAX_KEYS)
        if obj is not None and "keys" in obj
        else None
    )
    keys = [_parse_key(reader, item, f"keys[{i}]", ed25519) for i, item in enumerate(items or [])]
    if reader.problems:
        raise KeyringError("invalid keyring:\n  " + "\n  ".join(str(p) for p in reader.problems))
    return Keyring(tuple(key for key in keys if key is not None))


def parse_keyring_text(text: str, *, ed25519: Ed25519Factory | None = None) -> Keyring:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise KeyringError(f"invalid keyring: not JSON ({exc.__class__.__name__})") from None
    return parse_keyring(document, ed25519=ed25519)
