"""Step one of the flow: who is asking, which experiments apply, and the signed decision.

Pure apart from the ports it is handed (``new_id`` for randomness, ``now`` for the clock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import (
    Assignment,
    Config,
    DecisionClaims,
    Keyring,
    assign_control,
    is_targeted,
    sign_token,
)
from ..core.events import exposure_event, utc_iso
from ..core.holdout import holdout_exposures
from ..ports.http import Headers, ProxyRequest
from .assign_memo import AssignMemo
from .attributes import RequestAttributes
from .cookies import format_set_cookie
from .identity import identity_cookie, resolve_identity
from .manifests import for_signing, manifests_for
from .memo import VerifiedTokens
from .policy import classify

__all__ = ["Decision", "control_decision", "decide", "NO_DECISION"]


@dataclass(frozen=True, slots=True)
class Decision:
    visitor_id: str | None = None
    assignments: Mapping[str, Assignment] = field(default_factory=dict)
    vector: tuple[tuple[str, str], ...] = ()
    """(experiment, variant) for every experiment that applies, sorted: the cache dimension."""
    claims: DecisionClaims | None = None
    """What the origin's header will say; signed only when the request goes to the origin
    (a cache hit needs no signature)."""
    set_cookie: str | None = None
    exposures: tuple[dict[str, Any], ...] = ()
    bot: str = ""
    decision_cookie: str | None = None
    """A Set-Cookie value refreshing the readable decision cookie, when it needs refreshing."""


NO_DECISION = Decision()
DECISION_COOKIE_REFRESH_SECONDS = 3600
VERIFIED_COOKIES = VerifiedTokens()
"""One per process (isolate): a returning visitor's cookie is checked by HMAC once, not per page."""
ASSIGNMENTS = AssignMemo()
"""One per process (isolate): a returning visitor's experiments are hashed once, not per page."""


def _previous_claims(
    existing: str | None, keyring: Keyring, now: float, config: Config
) -> DecisionClaims | None:
    """The visitor's verified decision cookie, if any (forged or expired ones count for nothing)."""
    if not existing:
        return None
    return VERIFIED_COOKIES.claims(existing, keyring, config, now, manifests_for(config))


def _pins(
    existing: str | None, keyring: Keyring, now: float, visitor_id: str, config: Config
) -> dict[str, str] | None:
    """The session pin the browser script set after it saw drift: a verified earlier token of
    this same visitor; only experiments the visitor was really in are kept."""
    claims = _previous_claims(existing, keyring, now, config)
    if claims is None or claims.visitor_id != visitor_id:
        return None
    return {key: variant for key, variant in claims.assignments.items() if key not in claims.held_out} or None


def _decision_cookie(
    config: Config, previous: DecisionClaims | None, claims: DecisionClaims, keyring: Keyring, now: float
) -> str | None:
    """A fresh decision cookie unless the visitor's current one still says the same thing."""
    settings = config.settings
    if previous is not None and (
        previous.visitor_id == claims.visitor_id
        and dict(previous.assignments) == dict(claims.assignments)
        and previous.held_out == claims.held_out
        and previous.config_version == claims.config_version
        and now - previous.issued_at < DECISION_COOKIE_REFRESH_SECONDS
    ):
        return None
    lasting = DecisionClaims(
        claims.visitor_id,
        claims.assignments,
        claims.config_version,
        claims.issued_at,
        claims.issued_at + settings.decision.cookie_ttl_seconds,
        claims.held_out,
        claims.manifest,
        claims.holdout,
    )
    return format_set_cookie(
        settings.decision.cookie,
        sign_token(lasting, keyring),
        max_age=settings.decision.cookie_ttl_seconds,
        domain=settings.identity.domain,
        secure=settings.identity.secure,
        http_only=False,
        same_site=settings.identity.same_site,
    )


def decide(
    request: ProxyRequest,
    headers: Headers,
    cookies: Mapping[str, str],
    config: Config,
    keyring: Keyring,
    *,
    now: float,
    new_id: Callable[[], str],
    exposure_window_seconds: int,
) -> Decision:
    settings = config.settings
    attributes = RequestAttributes(request.method, request.url, headers, cookies, request.platform)
    # Requests no experiment applies to pass straight through: no id, no cookie, no token.
    if not config.experiments or not is_targeted(config, attributes):
        return NO_DECISION
    participation = classify(settings.policy, headers, cookies, request.platform)
    previous: DecisionClaims | None = None
    if participation.bot:
        assignments = assign_control(config, attributes, "bot")
        visitor_id, set_cookie = "", None
    else:
        identity = resolve_identity(
            settings.identity, cookies, headers, new_id, persist=participation.consent
        )
        visitor_id, set_cookie = identity.visitor_id, identity.set_cookie
        previous = _previous_claims(cookies.get(settings.decision.cookie), keyring, now, config)
        if previous is not None and previous.visitor_id != visitor_id:
            previous = None
        sticky = previous.assignments if previous is not None else None
        pins = _pins(cookies.get(settings.decision.pin_cookie), keyring, now, visitor_id, config)
        assignments = ASSIGNMENTS.assign(config, visitor_id, attributes, sticky, pins)
    vector = tuple(sorted((key, a.variant) for key, a in assignments.items() if a.variant is not None))
    claims = for_signing(
        config,
        DecisionClaims.from_assignments(
            visitor_id, assignments, config.version, now, settings.decision.ttl_seconds
        ),
    )
    exposures: tuple[dict[str, Any], ...] = ()
    decision_cookie = None
    if participation.consent and not participation.bot:
        timestamp = utc_iso(now)  # once per request, not per exposure
        exposures = tuple(
            exposure_event(
                visitor_id, key, a.variant, config.version, now, exposure_window_seconds, timestamp
            )
            for key, a in assignments.items()
            if a.in_experiment and a.variant is not None
        ) + holdout_exposures(
            visitor_id, assignments, config.version, now, exposure_window_seconds, timestamp
        )
        decision_cookie = _decision_cookie(config, previous, claims, keyring, now)
        if decision_cookie is not None and set_cookie is None:
            # The visitor cookie slides with it (at most hourly): an active visitor's id, and so
            # its variants, never expires mid-experiment.
            set_cookie = identity_cookie(settings.identity, cookies[settings.identity.cookie])
    why = participation.why if participation.bot else ""
    return Decision(visitor_id, assignments, vector, claims, set_cookie, exposures, why, decision_cookie)


def control_decision(
    request: ProxyRequest,
    headers: Headers,
    cookies: Mapping[str, str],
    config: Config,
    now: float,
) -> Decision:
    """The fail-open decision: the control for every experiment that applies, out of the
    experiment, for no visitor (no cookie, no exposure), so the origin still renders."""
    attributes = RequestAttributes(request.method, request.url, headers, cookies, request.platform)
    assignments = assign_control(config, attributes, "fail_open")
    vector = tuple(sorted((key, a.variant) for key, a in assignments.items() if a.variant is not None))
    if not vector:
        return NO_DECISION
    claims = for_signing(
        config,
        DecisionClaims.from_assignments(
            "", assignments, config.version, now, config.settings.decision.ttl_seconds
        ),
    )
    return Decision("", assignments, vector, claims)
