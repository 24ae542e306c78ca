"""Ed25519 decision-token keys on CPython, via the ``cryptography`` package.

Public-key tokens let browsers and third parties verify decisions without holding a secret
(WebCrypto verifies Ed25519 natively). Install with ``pip install edgesplit[ed25519]``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .core.errors import KeyringError

__all__ = ["Ed25519Key", "ed25519_key"]

_RAW = serialization.Encoding.Raw


class Ed25519Key:
    alg = "EdDSA"

    def __init__(
        self,
        key_id: str,
        private_key: Ed25519PrivateKey | None,
        public_key: Ed25519PublicKey,
        verify_until: float | None,
    ) -> None:
        self.id = key_id
        self.verify_until = verify_until
        self._private = private_key
        self._public = public_key

    @property
    def can_sign(self) -> bool:
        return self._private is not None

    @property
    def public_key_bytes(self) -> bytes:
        return self._public.public_bytes(_RAW, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        if self._private is None:
            raise KeyringError(f"key {self.id!r} holds only a public key and cannot sign")
        return self._private.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Ed25519Key(id={self.id!r}, can_sign={self.can_sign})"


def ed25519_key(
    key_id: str, private: bytes | None, public: bytes | None, verify_until: float | None
) -> Ed25519Key:
    """Build a key from raw 32-byte seed and/or public key; they must belong together."""
    try:
        private_key = Ed25519PrivateKey.from_private_bytes(private) if private is not None else None
        public_key = (
            Ed25519PublicKey.from_public_bytes(public) if public is not None else private_key.public_key()  # type: ignore[union-attr]
        )
    except ValueError as exc:
        raise KeyringError(f"key {key_id!r}: not a raw 32-byte Ed25519 key ({exc})") from None
    if private_key is not None and public is not None:
        derived = private_key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        if derived != public:
            raise KeyringError(f"key {key_id!r}: public_key does not match private_key")
    return Ed25519Key(key_id, private_key, public_key, verify_until)
