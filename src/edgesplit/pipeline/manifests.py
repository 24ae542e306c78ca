"""The manifests this process has served, so that compact tokens from before a config change
still decode (stickiness and session pins survive an experiment being added), and so that
``<admin prefix>/manifest/<id>`` can publish them to origins and browsers.

One book per process: manifests are content-addressed, so configs of different pipelines in
one process never clash, and a manifest is built once per config object, not per request.
"""

from __future__ import annotations

from dataclasses import replace

from ..core import Config, DecisionClaims, Manifest, ManifestBook
from ..core.decision_token import token_length_bound
from ..core.manifest import MANIFEST_ID_PATTERN, ManifestLookup
from ..core.token_budget import MAX_DECISION_TOKEN_CHARS
from ..ports.http import ProxyResponse, plain_response

__all__ = ["manifest_for", "manifests_for", "manifest_response", "for_signing", "RECENT_MANIFESTS"]

RECENT_MANIFESTS = ManifestBook(capacity=32)
_last: tuple[Config, Manifest] | None = None


def manifest_for(config: Config) -> Manifest:
    """The config's manifest, remembered in ``RECENT_MANIFESTS``."""
    global _last  # noqa: PLW0603 - one memo per process (per isolate at the edge)
    if _last is not None and _last[0] is config:
        return _last[1]
    manifest = RECENT_MANIFESTS.add(Manifest.from_config(config))
    _last = (config, manifest)
    return manifest


def for_signing(config: Config, claims: DecisionClaims) -> DecisionClaims:
    """The claims as they are signed: compact (es2) against the config's manifest, unless
    ``decision.token_format`` keeps es1 for origins not yet given manifests. Even then a
    decision whose es1 token could exceed the cookie budget is signed es2: as es1 it would never
    arrive (browsers drop the cookie, origins refuse the header)."""
    if (
        config.settings.decision.token_format == "es1"
        and token_length_bound(claims) <= MAX_DECISION_TOKEN_CHARS
    ):
        return claims
    return replace(claims, manifest=manifest_for(config))


def manifests_for(config: Config) -> ManifestLookup:
    """What verifiers in the pipeline decode with: the running config's manifest and those of
    the configs before it."""
    manifest_for(config)
    return RECENT_MANIFESTS


def manifest_response(config: Config, name: str) -> ProxyResponse:
    """``GET <admin prefix>/manifest/<id>``: the manifest's canonical text, public (it names
    what every token already showed before ``es2``) and immutable (the id is its hash)."""
    manifest = manifests_for(config)(name) if MANIFEST_ID_PATTERN.fullmatch(name) else None
    if manifest is None:
        response = plain_response(404, "404 unknown manifest\n")
        response.headers.set("cache-control", "no-store")
        return response
    response = plain_response(200, manifest.text, "application/json")
    response.headers.set("cache-control", "public, max-age=31536000, immutable")
    response.headers.set("access-control-allow-origin", "*")
    return response
