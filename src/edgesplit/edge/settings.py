"""The Worker's variables and secrets, read once into one frozen object.

``EdgeSettings.from_env(env)`` is the only place the edge reads a setting from ``env``: the
Worker (``edge/worker.py``) and both Durable Objects take theirs from it. Defaults come from
``edgesplit.core.defaults``, shared with the self-hosted proxy.

Values arrive as strings (``[vars]`` and secrets); a number written unquoted in wrangler.toml
arrives as a number and is taken too. Unset or empty means the default. A bad value is refused
with the variable's name and the reason, every bad variable at once, the way a config document
is refused with its JSON paths; secrets' values are never repeated in the message. What the
Worker does with a refusal is in docs/performance-edge.md ("Settings"): it never guesses.

Plain Python (no ``js``): tested on CPython and under Pyodide.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core import Keyring, KeyringError, defaults, parse_keyring_text
from ..pipeline.options import track_limits_from_text, trusted_upstreams_from_text
from ..pipeline.track_guard import TrackLimits
from ..queue.drain import DrainPolicy
from ..queue.store import Bounds
from ..vendors import adapters_from_settings

__all__ = ["SECRETS", "VARIABLES", "EdgeSettings", "SettingsError", "read_values"]

VARIABLES = (
    "EDGESPLIT_ADMIN_TOKEN",
    "EDGESPLIT_CONFIG_JSON",
    "EDGESPLIT_CONFIG_KEY",
    "EDGESPLIT_CONFIG_TTL",
    "EDGESPLIT_DRAIN_BACKOFF",
    "EDGESPLIT_DRAIN_BATCHES",
    "EDGESPLIT_DRAIN_PACE",
    "EDGESPLIT_DRAIN_TIMEOUT",
    "EDGESPLIT_KEYS",
    "EDGESPLIT_ORIGIN",
    "EDGESPLIT_ORIGIN_TIMEOUT",
    "EDGESPLIT_QUEUE_DROP",
    "EDGESPLIT_QUEUE_MAX_AGE",
    "EDGESPLIT_QUEUE_MAX_BYTES",
    "EDGESPLIT_QUEUE_MAX_EVENTS",
    "EDGESPLIT_QUEUE_SHARDS",
    "EDGESPLIT_TRACK_LIMITS",
    "EDGESPLIT_TRUSTED_UPSTREAMS",
    "EDGESPLIT_VENDORS",
    "EDGESPLIT_VENDOR_URL",
)
"""Every variable the edge reads (bindings such as ``QUEUE`` are not settings)."""

SECRETS = frozenset({"EDGESPLIT_ADMIN_TOKEN", "EDGESPLIT_KEYS", "EDGESPLIT_VENDORS"})
"""Never repeated in an error message or a repr (vendor specs carry API keys)."""

MAX_QUEUE_SHARDS = 1024
"""The cron touches every shard once a minute: more would cost more than it spreads."""

Value = str | int | float
Values = Mapping[str, Value]


class SettingsError(ValueError):
    """The Worker's variables were refused. ``problems`` lists ``(variable, reason)`` pairs;
    ``fallback`` is what the settings would be with the bad variables left at their defaults
    (enough to pass requests through to the origin, never to run experiments with)."""

    def __init__(self, problems: Sequence[tuple[str, str]], fallback: EdgeSettings) -> None:
        self.problems = tuple(problems)
        self.fallback = fallback
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the Worker's variables"
        super().__init__(head + "".join(f"\n  {name}: {reason}" for name, reason in self.problems))


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    config_key: str = defaults.CONFIG_KEY
    """``EDGESPLIT_CONFIG_KEY``: the config document's key in the ``EDGESPLIT_CONFIG`` KV."""
    config_ttl_seconds: float = defaults.CONFIG_TTL_SECONDS
    """``EDGESPLIT_CONFIG_TTL``: how long an isolate keeps its copy before re-reading KV."""
    config_json: str | None = field(default=None, repr=False)
    """``EDGESPLIT_CONFIG_JSON``: the config when KV has none (validated where it is used)."""
    keyring: Keyring | None = field(default=None, repr=False, compare=False)
    """``EDGESPLIT_KEYS`` (secret), parsed. None when unset: the Worker then passes through."""
    admin_token: str | None = field(default=None, repr=False)
    """``EDGESPLIT_ADMIN_TOKEN`` (secret). Too short: the admin pages answer 503 (admin_guard)."""
    origin: str | None = None
    """``EDGESPLIT_ORIGIN``: the origin's base URL; None sends requests on to the zone's origin."""
    origin_timeout_seconds: float = defaults.ORIGIN_TIMEOUT_SECONDS
    """``EDGESPLIT_ORIGIN_TIMEOUT``: seconds to the origin's response headers, then 504."""
    queue_shards: int = defaults.EDGE_QUEUE_SHARDS
    """``EDGESPLIT_QUEUE_SHARDS``: event queue shards (Durable Objects)."""
    drain: DrainPolicy = DrainPolicy()
    """``EDGESPLIT_DRAIN_BATCHES|PACE|BACKOFF`` and the queue's bounds,
    ``EDGESPLIT_QUEUE_MAX_EVENTS|MAX_BYTES|MAX_AGE|DROP``."""
    drain_timeout_seconds: float = defaults.DRAIN_TIMEOUT_SECONDS
    """``EDGESPLIT_DRAIN_TIMEOUT``: per vendor request from the queue."""
    track_limits: TrackLimits = TrackLimits()
    """``EDGESPLIT_TRACK_LIMITS``: a JSON object of ``/track`` caps (docs/security.md)."""
    trusted_upstreams: tuple[str, ...] = ()
    """``EDGESPLIT_TRUSTED_UPSTREAMS``: comma-separated addresses or networks."""
    vendors: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """``EDGESPLIT_VENDORS`` (secret, a JSON list of specs) and ``EDGESPLIT_VENDOR_URL``:
    the vendor adapters by name."""

    @property
    def queue_bounds(self) -> Bounds:
        return self.drain.bounds

    @classmethod
    def from_env(cls, env: Any) -> EdgeSettings:
        """The settings in ``env`` (the Worker's or a Durable Object's); SettingsError if any
        variable is bad."""
        return cls.from_values(read_values(env))

    @classmethod
    def from_values(cls, values: Values) -> EdgeSettings:
        """The same from ``{variable: value}`` (what ``read_values`` returns)."""
        settings, problems = _parse(values)
        if problems:
            raise SettingsError(problems, settings)
        return settings


def read_values(env: Any) -> dict[str, Value]:
    """The variables ``env`` sets, as given: unset, null and empty ones are left out; any other
    non-text, non-number value is kept, to be refused by name."""
    values: dict[str, Any] = {}
    for name in VARIABLES:
        value = getattr(env, name, None)
        if isinstance(value, str):
            if value != "":
                values[name] = value
        elif value is not None and type(value).__name__ not in ("JsNull", "NoneType"):
            values[name] = value
    return values


class _Reader:
    """Reads one variable at a time, noting a problem (and keeping the default) when it is bad."""

    def __init__(self, values: Values) -> None:
        self.values = values
        self.problems: list[tuple[str, str]] = []

    def refuse(self, name: str, reason: str) -> None:
        if name not in SECRETS:
            raw = self.values.get(name)
            shown = repr(raw if not isinstance(raw, str) or len(raw) <= 60 else raw[:57] + "...")
            reason = f"{reason}, got {shown}"
        self.problems.append((name, reason))

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        self.refuse(name, "must be text (a [vars] string or a secret)")
        return None

    def number(
        self, name: str, default: float, *, minimum: float, above: bool = False, maximum: float = math.inf
    ) -> float:
        value = self.values.get(name)
        if value is None:
            return default
        parsed = _as_number(value, float)
        ok = parsed is not None and math.isfinite(parsed) and parsed <= maximum
        ok = ok and parsed is not None and (parsed > minimum if above else parsed >= minimum)
        if not ok:
            bound = f"above {minimum:g}" if above else f"at least {minimum:g}"
            self.refuse(name, f"must be a number {bound}" + _at_most(maximum))
            return default
        assert parsed is not None
        return parsed

    def whole(self, name: str, default: int, *, minimum: int, maximum: float = math.inf) -> int:
        value = self.values.get(name)
        if value is None:
            return default
        parsed = _as_number(value, int)
        if parsed is None or not minimum <= parsed <= maximum:
            self.refuse(name, f"must be a whole number of at least {minimum}" + _at_most(maximum))
            return default
        return int(parsed)

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self.text(name)
        if value is None:
            return default
        if value not in choices:
            self.refuse(name, "must be one of " + ", ".join(choices))
            return default
        return value

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        if not _is_http_url(value):
            self.refuse(name, "must be an http(s) URL with a host, like https://origin.example.com")
            return None
        return value

    def parsed(self, name: str, parse: Callable[[str | None], Any], default: Any) -> Any:
        try:
            return parse(self.text(name))
        except (ValueError, TypeError, KeyError, KeyringError, RecursionError) as exc:
            self.refuse(name, _reason(exc))
            return default


def _parse(values: Values) -> tuple[EdgeSettings, list[tuple[str, str]]]:
    read = _Reader(values)
    bounds = Bounds(
        max_events=read.whole("EDGESPLIT_QUEUE_MAX_EVENTS", defaults.QUEUE_MAX_EVENTS, minimum=1),
        max_bytes=read.whole("EDGESPLIT_QUEUE_MAX_BYTES", defaults.QUEUE_MAX_BYTES, minimum=1),
        max_age_seconds=read.number(
            "EDGESPLIT_QUEUE_MAX_AGE", defaults.QUEUE_MAX_AGE_SECONDS, minimum=0, above=True
        ),
        drop=read.choice("EDGESPLIT_QUEUE_DROP", defaults.QUEUE_DROP, defaults.QUEUE_DROP_POLICIES),
    )
    drain = DrainPolicy(
        batches_per_run=read.whole("EDGESPLIT_DRAIN_BATCHES", defaults.DRAIN_BATCHES_PER_RUN, minimum=1),
        pace_seconds=read.number("EDGESPLIT_DRAIN_PACE", defaults.DRAIN_PACE_SECONDS, minimum=0),
        base_backoff_seconds=read.number(
            "EDGESPLIT_DRAIN_BACKOFF", defaults.DRAIN_BACKOFF_SECONDS, minimum=0, above=True
        ),
        bounds=bounds,
    )
    vendor_url = read.url("EDGESPLIT_VENDOR_URL")
    settings = EdgeSettings(
        config_key=read.text("EDGESPLIT_CONFIG_KEY") or defaults.CONFIG_KEY,
        config_ttl_seconds=read.number("EDGESPLIT_CONFIG_TTL", defaults.CONFIG_TTL_SECONDS, minimum=0),
        config_json=read.text("EDGESPLIT_CONFIG_JSON"),
        keyring=read.parsed("EDGESPLIT_KEYS", _keyring, None),
        admin_token=read.text("EDGESPLIT_ADMIN_TOKEN"),
        origin=read.url("EDGESPLIT_ORIGIN"),
        origin_timeout_seconds=read.number(
            "EDGESPLIT_ORIGIN_TIMEOUT", defaults.ORIGIN_TIMEOUT_SECONDS, minimum=0, above=True
        ),
        queue_shards=read.whole(
            "EDGESPLIT_QUEUE_SHARDS", defaults.EDGE_QUEUE_SHARDS, minimum=1, maximum=MAX_QUEUE_SHARDS
        ),
        drain=drain,
        drain_timeout_seconds=read.number(
            "EDGESPLIT_DRAIN_TIMEOUT", defaults.DRAIN_TIMEOUT_SECONDS, minimum=0, above=True
        ),
        track_limits=read.parsed("EDGESPLIT_TRACK_LIMITS", track_limits_from_text, TrackLimits()),
        trusted_upstreams=read.parsed("EDGESPLIT_TRUSTED_UPSTREAMS", trusted_upstreams_from_text, ()),
        vendors=read.parsed("EDGESPLIT_VENDORS", lambda text: _vendors(text, vendor_url), {}),
    )
    return settings, read.problems


def _keyring(text: str | None) -> Keyring | None:
    return parse_keyring_text(text) if text is not None else None


def _vendors(specs: str | None, webhook_url: str | None) -> dict[str, Any]:
    adapters = adapters_from_settings(specs, webhook_url)
    for adapter in adapters.values():
        for place in ("url", "host"):
            where = getattr(adapter, place, None)
            if isinstance(where, str) and not _is_http_url(where):
                raise ValueError(f"a vendor's {place} must be an http(s) URL with a host")
    return adapters


def _as_number(value: Value, kind: Callable[[str], float]) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value if kind is float or float(value).is_integer() else None
    if not value.isascii():  # int() would take other scripts' digits
        return None
    try:
        return kind(value.strip())
    except (ValueError, OverflowError):
        return None


def _at_most(maximum: float) -> str:
    return f" and at most {maximum:g}" if math.isfinite(maximum) else ""


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "a field is missing"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return " ".join(str(exc).split()) or type(exc).__name__
