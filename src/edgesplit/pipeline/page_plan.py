"""What the variants a visitor is in do to this request, before the origin is asked.

- a **redirect** answers at once (never for bots, prefetches, non-GET requests, or a request
  already on a redirect target: no loops), is never stored, and is ``private, no-store``;
- a **rewrite** fetches another path (or a listed host) while the address stays the same; the
  cache key keeps the visitor's variant, so rewritten pages are cached per variant;
- **HTML changes** are collected for the response. An experiment whose variants differ only
  by HTML changes is left out of the cache key and of the origin's decision header: the
  origin's page is fetched and cached once and each variant's changes are applied per request.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..core import Config, DecisionClaims
from ..core.experiments import Experiment
from ..core.variant_actions import Change, Redirect, Rewrite, VariantActions
from ..ports.http import Headers, ProxyRequest, ProxyResponse
from .decide import Decision

__all__ = [
    "PagePlan",
    "acting_experiments",
    "is_prefetch",
    "plan_page",
    "redirect_targets",
    "shares_origin_page",
]

_PREFETCH_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")
CROSS_ORIGIN_DROPPED = ("cookie", "authorization", "proxy-authorization", "x-forwarded-for")
"""Never sent to another site's origin: the visitor's credentials are for this one."""


@dataclass(frozen=True, slots=True)
class PagePlan:
    request: ProxyRequest
    """What goes to the origin (rewritten when a variant says so)."""
    fetch_decision: Decision
    """The decision as the cache and the origin see it (shared experiments left out)."""
    redirect: ProxyResponse | None = None
    changes: tuple[Change, ...] = ()
    shared: tuple[str, ...] = ()
    """Experiments whose variants share one origin page (differ only by HTML changes)."""


def is_prefetch(headers: Headers) -> bool:
    """Speculative loads (``Sec-Purpose: prefetch``, ``Purpose: prefetch``, ``X-Moz: prefetch``)."""
    return any(
        "prefetch" in value.lower() or "preview" in value.lower()
        for name in _PREFETCH_HEADERS
        for value in headers.get_all(name)
    )


def shares_origin_page(experiment: Experiment) -> bool:
    """True when the variants differ only by HTML changes (so the origin renders one page)."""
    actions = [variant.actions for variant in experiment.variants if variant.actions is not None]
    return any(a.changes for a in actions) and not any(a.changes_origin_request for a in actions)


_TARGETS: dict[int, tuple[Config, frozenset[str]]] = {}


def redirect_targets(config: Config) -> frozenset[str]:
    """Every same-site path some variant redirects to (computed once per config)."""
    cached = _TARGETS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    targets = frozenset(
        path
        for experiment in config.experiments
        for variant in experiment.variants
        if variant.actions is not None and variant.actions.redirect is not None
        for path in (variant.actions.redirect.target_path,)
        if path is not None
    )
    _TARGETS.clear()  # one config runs at a time: keep only the newest
    _TARGETS[id(config)] = (config, targets)
    return targets


def _with_query(target: str, query: str, keep: bool) -> str:
    if not keep or not query:
        return target
    return f"{target}{'&' if '?' in target else '?'}{query}"


def _redirect_response(redirect: Redirect, query: str) -> ProxyResponse:
    headers = Headers(
        [
            ("location", _with_query(redirect.url, query, redirect.keep_query)),
            ("cache-control", "private, no-store"),
            ("content-length", "0"),
        ]
    )
    return ProxyResponse(redirect.status, headers, b"")


def _rewritten(request: ProxyRequest, rewrite: Rewrite) -> ProxyRequest:
    parts = urlsplit(request.url)
    query = parts.query if rewrite.keep_query else ""
    if rewrite.path is not None:
        url = urlunsplit((parts.scheme, parts.netloc, rewrite.path, query, ""))
        return dataclasses.replace(request, url=url)
    assert rewrite.url is not None
    headers = request.headers.copy()
    headers.remove(*CROSS_ORIGIN_DROPPED)
    headers.set("host", urlsplit(rewrite.url).netloc)
    # The address (and so the cache key) stays this site's; only the fetch goes elsewhere.
    return dataclasses.replace(request, headers=headers, origin_url=_with_query(rewrite.url, query, True))


def _without(claims: DecisionClaims | None, shared: set[str]) -> DecisionClaims | None:
    if claims is None:
        return None
    return dataclasses.replace(
        claims,
        assignments={key: value for key, value in claims.assignments.items() if key not in shared},
        held_out=frozenset(claims.held_out - shared),
        holdout=frozenset(claims.holdout - shared),
    )


_ACTING: dict[int, tuple[Config, dict[str, tuple[Experiment, bool]]]] = {}


def acting_experiments(config: Config) -> dict[str, tuple[Experiment, bool]]:
    """Experiment key -> (experiment, shares its origin page) for the experiments some variant of
    which has actions; the others change nothing about a page (computed once per config)."""
    cached = _ACTING.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    acting = {
        experiment.key: (experiment, shares_origin_page(experiment))
        for experiment in config.experiments
        if any(variant.actions is not None for variant in experiment.variants)
    }
    _ACTING.clear()  # one config runs at a time: keep only the newest
    _ACTING[id(config)] = (config, acting)
    return acting


def plan_page(config: Config, decision: Decision, request: ProxyRequest) -> PagePlan:
    if not decision.vector:
        return PagePlan(request, decision)
    acting = acting_experiments(config)
    if not acting:
        return PagePlan(request, decision)
    redirect: Redirect | None = None
    rewrite: Rewrite | None = None
    changes: list[Change] = []
    shared: set[str] = set()
    for key, assignment in sorted(decision.assignments.items()):
        found = acting.get(key)
        if found is None or assignment.index is None:
            continue
        experiment, shares = found
        if shares:
            shared.add(key)
        actions: VariantActions | None = experiment.variants[assignment.index].actions
        if actions is None:
            continue
        changes.extend(actions.changes)
        redirect = redirect or actions.redirect
        rewrite = rewrite or actions.rewrite
    if not (redirect or rewrite or changes or shared):
        return PagePlan(request, decision)
    parts = urlsplit(request.url)
    if (
        redirect is not None
        and request.method in ("GET", "HEAD")
        and not decision.bot
        and not is_prefetch(request.headers)
        and parts.path not in redirect_targets(config)
    ):
        return PagePlan(request, decision, redirect=_redirect_response(redirect, parts.query))
    forwarded = _rewritten(request, rewrite) if rewrite is not None else request
    fetch_decision = decision
    if shared:
        fetch_decision = dataclasses.replace(
            decision,
            vector=tuple(pair for pair in decision.vector if pair[0] not in shared),
            claims=_without(decision.claims, shared),
        )
    return PagePlan(forwarded, fetch_decision, None, tuple(changes), tuple(sorted(shared)))
