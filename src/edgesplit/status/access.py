"""Who may read the admin pages: ``Authorization: Bearer <admin token>``, or a browser session
opened by posting the token to the sign-in form.

The session cookie is ``<expiry>.<HMAC-SHA256(admin token, expiry)>``: it proves the token was
known, never contains it, stops working when it expires or when the token changes, and is
``HttpOnly; SameSite=Strict`` on the admin path only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

__all__ = ["ADMIN_COOKIE", "SESSION_SECONDS", "authorized", "session_value", "token_from_form"]

ADMIN_COOKIE = "edgesplit_admin"
SESSION_SECONDS = 12 * 3600


SESSION_PURPOSE = "edgesplit-admin-session"


def _mac(token: str, expiry: int, purpose: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{expiry}".encode(), hashlib.sha256).hexdigest()


def expiring_value(token: str, now: float, purpose: str, seconds: int) -> str:
    """``<expiry>.<HMAC-SHA256(token, purpose:expiry)>``: proves the token was known, for one
    purpose (a value made for one never passes as another), until it expires."""
    expiry = int(now) + seconds
    return f"{expiry}.{_mac(token, expiry, purpose)}"


def expiring_value_valid(value: str | None, token: str, now: float, purpose: str, seconds: int) -> bool:
    if not value or value.count(".") != 1:
        return False
    expiry_text, mac = value.split(".")
    if not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    return now < expiry <= now + seconds + 60 and hmac.compare_digest(mac, _mac(token, expiry, purpose))


def _session_valid(value: str | None, token: str, now: float) -> bool:
    return expiring_value_valid(value, token, now, SESSION_PURPOSE, SESSION_SECONDS)


def authorized(authorization: str | None, cookies: Mapping[str, str], token: str | None, now: float) -> bool:
    if not token:
        return False
    if authorization is not None and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    return _session_valid(cookies.get(ADMIN_COOKIE), token, now)


def session_value(token: str, now: float) -> str:
    """The admin cookie's value for a session opened ``now``."""
    return expiring_value(token, now, SESSION_PURPOSE, SESSION_SECONDS)


def token_from_form(body: bytes) -> str | None:
    """The ``token`` field of an ``application/x-www-form-urlencoded`` sign-in post."""
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("token")
    return values[0] if values and len(values) == 1 else None
