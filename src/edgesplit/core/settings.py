"""The config document's deployment sections: identity, policy, decision and cache.

Each has defaults a demanding user can live with, so a config may leave any of them out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .linear_regex import UnsafePattern, compile_linear
from .ofrep_settings import OfrepSettings, parse_ofrep
from .page_settings import PageSettings, parse_page_settings
from .validation import Reader, child_path

__all__ = [
    "CacheSettings",
    "DecisionSettings",
    "IdentitySettings",
    "PolicySettings",
    "Settings",
    "parse_settings",
    "SETTINGS_SECTIONS",
    "DEFAULT_BOT_PATTERNS",
]

_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # an RFC 6265 token
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")
_DOMAIN = re.compile(r"\.?[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*")
_PATH_PREFIX = re.compile(r"/[A-Za-z0-9._~/-]{0,63}")
DEFAULT_ADMIN_PREFIX = "/__edgesplit"
T = TypeVar("T")
DEFAULT_BOT_PATTERNS = (
    r"bot\b",
    r"crawl",
    r"spider",
    r"slurp",
    r"facebookexternalhit",
    r"embedly",
    r"bingpreview",
    r"headlesschrome",
    r"lighthouse",
    r"pingdom",
    r"uptimerobot",
    r"python-requests",
    r"wget",
    r"^$",
)
SETTINGS_SECTIONS = ("identity", "policy", "decision", "cache", "admin", "ofrep", "pages")


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    cookie: str = "edgesplit_id"
    max_age_days: int = 90
    domain: str | None = None
    secure: bool = True
    same_site: str = "Lax"
    id_header: str | None = None
    """A header set by a trusted upstream (a logged-in user id) that wins over the cookie."""


@dataclass(frozen=True, slots=True)
class ConsentSettings:
    required: bool = False
    cookie: str = "edgesplit_consent"
    granted_values: tuple[str, ...] = ("1", "true", "yes", "granted")


@dataclass(frozen=True, slots=True)
class PolicySettings:
    bot_patterns: tuple[str, ...] = DEFAULT_BOT_PATTERNS
    prefetch_is_bot: bool = True
    consent: ConsentSettings = ConsentSettings()
    bot_score_below: int | None = 30
    """Cloudflare bot score (1-99) under which a request counts as a bot, where the edge has one."""


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    header: str = "x-edgesplit-decision"
    ttl_seconds: int = 300
    cookie: str = "edgesplit_decision"
    """A readable cookie holding a longer-lived token: the page can read its assignments and
    the track endpoint can verify conversions with it."""
    cookie_ttl_seconds: int = 86_400
    pin_cookie: str = "edgesplit_pin"
    """A session cookie the browser script sets after it sees drift: an earlier decision token
    whose variants this visitor keeps (while the experiment runs) for the rest of the session."""
    on_failure: str = "control"
    """When deciding fails: ``control`` sends a signed all-control decision (origins that require
    the header keep working); ``none`` sends the request on without a decision."""
    token_format: str = "es2"
    """``es2``: compact, experiments as positions in the published manifest (docs/decision-tokens.md);
    ``es1``: names in JSON, for origins not yet given manifests (its size bound is far lower)."""


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool = True
    ignore_query_params: tuple[str, ...] = ("utm_*", "gclid", "fbclid", "msclkid")
    max_entry_bytes: int = 2 * 1024 * 1024
    max_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AdminSettings:
    path_prefix: str = DEFAULT_ADMIN_PREFIX


@dataclass(frozen=True, slots=True)
class Settings:
    identity: IdentitySettings = IdentitySettings()
    policy: PolicySettings = PolicySettings()
    decision: DecisionSettings = DecisionSettings()
    cache: CacheSettings = CacheSettings()
    admin: AdminSettings = AdminSettings()
    ofrep: OfrepSettings = OfrepSettings()
    pages: PageSettings = PageSettings()


def _name(
    reader: Reader,
    obj: Any,
    key: str,
    path: str,
    default: str | None,
    pattern: re.Pattern[str],
    what: str,
) -> str | None:
    value = obj.get(key, default)
    if value is None:
        return None
    return reader.expect_str(value, child_path(path, key), max_length=253, pattern=pattern, pattern_help=what)


def _int(reader: Reader, obj: Any, key: str, path: str, default: int, lo: int, hi: int) -> int:
    value = reader.expect_number(
        obj.get(key, default), child_path(path, key), minimum=lo, maximum=hi, integer=True
    )
    return int(value) if value is not None else default


def _bool(reader: Reader, obj: Any, key: str, path: str, default: bool) -> bool:
    value = reader.expect_bool(obj.get(key, default), child_path(path, key))
    return default if value is None else value


def _strings(
    reader: Reader, obj: Any, key: str, path: str, default: tuple[str, ...], max_length: int = 256
) -> tuple[str, ...]:
    here = child_path(path, key)
    items = reader.expect_list(obj.get(key, list(default)), here, max_items=256)
    if items is None:
        return default
    checked = [
        reader.expect_str(item, child_path(here, i), max_length=max_length) for i, item in enumerate(items)
    ]
    return tuple(item for item in checked if item is not None)


def _identity(reader: Reader, value: Any, path: str) -> IdentitySettings:
    obj = (
        reader.expect_object(
            value,
            path,
            optional=("cookie", "max_age_days", "domain", "secure", "same_site", "id_header"),
        )
        or {}
    )
    d = IdentitySettings()
    return IdentitySettings(
        cookie=_name(reader, obj, "cookie", path, d.cookie, _COOKIE_NAME, "a cookie name (RFC 6265 token)")
        or d.cookie,
        max_age_days=_int(reader, obj, "max_age_days", path, d.max_age_days, 1, 400),
        domain=_name(
            reader,
            obj,
            "domain",
            path,
            None,
            _DOMAIN,
            "a domain such as example.com or .example.com",
        ),
        secure=_bool(reader, obj, "secure", path, d.secure),
        same_site=reader.expect_choice(
            obj.get("same_site", d.same_site),
            child_path(path, "same_site"),
            ("Lax", "Strict", "None"),
        )
        or d.same_site,
        id_header=_name(reader, obj, "id_header", path, None, _HEADER_NAME, "a header name"),
    )


def _policy(reader: Reader, value: Any, path: str) -> PolicySettings:
    obj = (
        reader.expect_object(
            value, path, optional=("bot_patterns", "prefetch_is_bot", "consent", "bot_score_below")
        )
        or {}
    )
    d = PolicySettings()
    patterns = _strings(reader, obj, "bot_patterns", path, d.bot_patterns)
    for i, pattern in enumerate(patterns):
        try:
            compile_linear(pattern, ignore_case=True)
        except UnsafePattern as exc:
            reader.fail(
                child_path(child_path(path, "bot_patterns"), i),
                f"invalid regular expression (linear-time subset): {exc}",
            )
    consent = d.consent
    if "consent" in obj:
        cpath = child_path(path, "consent")
        cobj = (
            reader.expect_object(obj["consent"], cpath, optional=("required", "cookie", "granted_values"))
            or {}
        )
        consent = ConsentSettings(
            required=_bool(reader, cobj, "required", cpath, consent.required),
            cookie=_name(reader, cobj, "cookie", cpath, consent.cookie, _COOKIE_NAME, "a cookie name")
            or consent.cookie,
            granted_values=_strings(reader, cobj, "granted_values", cpath, consent.granted_values, 64),
        )
    score = obj.get("bot_score_below", d.bot_score_below)
    if score is not None:
        score = _int(reader, obj, "bot_score_below", path, 30, 1, 100)
    return PolicySettings(
        patterns, _bool(reader, obj, "prefetch_is_bot", path, d.prefetch_is_bot), consent, score
    )


def _decision(reader: Reader, value: Any, path: str) -> DecisionSettings:
    obj = (
        reader.expect_object(
            value,
            path,
            optional=(
                "header",
                "ttl_seconds",
                "cookie",
                "cookie_ttl_seconds",
                "pin_cookie",
                "on_failure",
                "token_format",
            ),
        )
        or {}
    )
    d = DecisionSettings()
    header = _name(reader, obj, "header", path, d.header, _HEADER_NAME, "a header name") or d.header
    return DecisionSettings(
        header.lower(),
        _int(reader, obj, "ttl_seconds", path, d.ttl_seconds, 10, 86_400),
        _name(reader, obj, "cookie", path, d.cookie, _COOKIE_NAME, "a cookie name") or d.cookie,
        _int(reader, obj, "cookie_ttl_seconds", path, d.cookie_ttl_seconds, 60, 30 * 86_400),
        _name(reader, obj, "pin_cookie", path, d.pin_cookie, _COOKIE_NAME, "a cookie name") or d.pin_cookie,
        reader.expect_choice(
            obj.get("on_failure", d.on_failure), child_path(path, "on_failure"), ("control", "none")
        )
        or d.on_failure,
        reader.expect_choice(
            obj.get("token_format", d.token_format), child_path(path, "token_format"), ("es2", "es1")
        )
        or d.token_format,
    )


def _cache(reader: Reader, value: Any, path: str) -> CacheSettings:
    obj = (
        reader.expect_object(
            value, path, optional=("enabled", "ignore_query_params", "max_entry_bytes", "max_bytes")
        )
        or {}
    )
    d = CacheSettings()
    return CacheSettings(
        enabled=_bool(reader, obj, "enabled", path, d.enabled),
        ignore_query_params=_strings(reader, obj, "ignore_query_params", path, d.ignore_query_params, 128),
        max_entry_bytes=_int(reader, obj, "max_entry_bytes", path, d.max_entry_bytes, 1, 1 << 30),
        max_bytes=_int(reader, obj, "max_bytes", path, d.max_bytes, 1, 1 << 40),
    )


def _admin(reader: Reader, value: Any, path: str) -> AdminSettings:
    obj = reader.expect_object(value, path, optional=("path_prefix",)) or {}
    prefix = reader.expect_str(
        obj.get("path_prefix", DEFAULT_ADMIN_PREFIX),
        child_path(path, "path_prefix"),
        max_length=64,
        pattern=_PATH_PREFIX,
        pattern_help="a path such as /__edgesplit",
    )
    return AdminSettings((prefix or DEFAULT_ADMIN_PREFIX).rstrip("/") or DEFAULT_ADMIN_PREFIX)


def parse_settings(reader: Reader, document: Any) -> Settings:
    """The deployment sections of a config document (problems go to ``reader``)."""
    defaults = Settings()

    def section(name: str, parser: Callable[[Reader, Any, str], T]) -> T:
        return parser(reader, document[name], name) if name in document else getattr(defaults, name)

    return Settings(
        identity=section("identity", _identity),
        policy=section("policy", _policy),
        decision=section("decision", _decision),
        cache=section("cache", _cache),
        admin=section("admin", _admin),
        ofrep=section("ofrep", parse_ofrep),
        pages=section("pages", parse_page_settings),
    )
