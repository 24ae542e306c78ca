"""Strict, canonical base64url without padding (RFC 4648 section 5)."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["b64url_encode", "b64url_decode"]

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes | None:
    """Decode, or ``None`` unless ``text`` is exactly what ``b64url_encode`` would produce.

    Padding, other alphabets, whitespace and non-zero trailing bits are all refused, so one
    byte string has exactly one accepted spelling.
    """
    if not isinstance(text, str) or len(text) % 4 == 1 or _ALPHABET.fullmatch(text) is None:
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if b64url_encode(data) == text else None
