"""Which requests take part: bots, crawlers and prefetches get the control and leave no trace;
without consent (where required) nothing is persisted or counted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..core.linear_regex import LinearPattern, compile_linear
from ..core.settings import PolicySettings
from ..ports.http import Headers
from .memo import BoundedMemo

__all__ = ["Participation", "classify"]

_PREFETCH = re.compile(r"prefetch|prerender", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Participation:
    bot: bool
    """Serve the control, set no cookie, emit no exposure."""
    consent: bool
    """False: assign from a non-persisted id, hold cookie and exposures."""
    why: str = ""


@lru_cache(maxsize=16)
def _bot_regex(patterns: tuple[str, ...]) -> LinearPattern | None:
    return compile_linear("|".join(f"(?:{p})" for p in patterns), ignore_case=True) if patterns else None


_UA_VERDICTS: BoundedMemo[str, tuple[LinearPattern, bool]] = BoundedMemo(4096)
"""User-Agent -> (the bot pattern it was matched against, matched?): browsers send few distinct
ones, and matching one costs more than the rest of the classification."""


def _bot_user_agent(regex: LinearPattern, user_agent: str) -> bool:
    hit = _UA_VERDICTS.get(user_agent)
    if hit is not None and hit[0] is regex:
        return hit[1]
    verdict = bool(regex.search(user_agent))
    _UA_VERDICTS.put(user_agent, (regex, verdict))
    return verdict


def _is_prefetch(headers: Headers) -> bool:
    for name in ("sec-purpose", "purpose", "x-purpose", "x-moz"):
        value = headers.get(name)
        if value is not None and _PREFETCH.search(value):
            return True
    return False


def classify(
    settings: PolicySettings,
    headers: Headers,
    cookies: Mapping[str, str],
    platform: Mapping[str, Any],
) -> Participation:
    consent = not settings.consent.required or (
        cookies.get(settings.consent.cookie, "").strip().lower() in settings.consent.granted_values
    )
    if platform.get("verified_bot") is True:
        return Participation(True, consent, "verified_bot")
    score = platform.get("bot_score")
    if (
        settings.bot_score_below is not None
        and isinstance(score, int)
        and not isinstance(score, bool)
        and 0 < score < settings.bot_score_below
    ):
        return Participation(True, consent, "bot_score")
    regex = _bot_regex(settings.bot_patterns)
    user_agent = headers.get("user-agent", "") or ""
    if regex is not None and _bot_user_agent(regex, user_agent[:1024]):
        return Participation(True, consent, "user_agent")
    if settings.prefetch_is_bot and _is_prefetch(headers):
        return Participation(True, consent, "prefetch")
    return Participation(False, consent)
