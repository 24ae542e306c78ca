"""Who the visitor is: the first-party cookie, or a trusted upstream header that wins over it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..core.settings import IdentitySettings
from ..ports.http import Headers
from .cookies import format_set_cookie

__all__ = ["Identity", "identity_cookie", "resolve_identity", "VISITOR_ID_PATTERN"]

VISITOR_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_HEADER_ID = re.compile(r"[\x21-\x7e]{1,256}")  # visible ASCII, bounded


@dataclass(frozen=True, slots=True)
class Identity:
    visitor_id: str
    """The id bucketing hashes and events carry."""
    set_cookie: str | None
    """A Set-Cookie value to send when the cookie is missing or unusable."""


def identity_cookie(settings: IdentitySettings, visitor_id: str) -> str:
    """The visitor cookie's Set-Cookie value, with its full lifetime from now."""
    return format_set_cookie(
        settings.cookie,
        visitor_id,
        max_age=settings.max_age_days * 86_400,
        domain=settings.domain,
        secure=settings.secure,
        same_site=settings.same_site,
    )


def resolve_identity(
    settings: IdentitySettings,
    cookies: Mapping[str, str],
    headers: Headers,
    new_id: Callable[[], str],
    *,
    persist: bool = True,
) -> Identity:
    """A missing, malformed or oversized cookie is a new visitor, never an error.

    ``persist=False`` (no consent yet) assigns from a fresh id and sets no cookie.
    """
    if not persist:
        return Identity(new_id(), None)
    header_id = headers.get(settings.id_header) if settings.id_header else None
    cookie_id = cookies.get(settings.cookie)
    set_cookie = None
    if cookie_id is None or VISITOR_ID_PATTERN.fullmatch(cookie_id) is None:
        cookie_id = new_id()
        set_cookie = identity_cookie(settings, cookie_id)
    if header_id is not None and _HEADER_ID.fullmatch(header_id):
        return Identity(header_id, set_cookie)
    return Identity(cookie_id, set_cookie)
