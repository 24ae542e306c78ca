"""The configuration document: parsing, validation and the immutable ``Config``.

``parse_config`` never returns a partly valid config: it returns a whole ``Config`` or raises
``ConfigError`` listing every problem with its path. Callers that hold a running config keep
it when a new one is refused (see ``ConfigHolder``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, Problem
from .experiments import KEY_HELP, KEY_PATTERN, Experiment, parse_experiment
from .holdout import Holdout, parse_holdout
from .settings import SETTINGS_SECTIONS, Settings, parse_settings
from .token_budget import check_token_budget
from .validation import Reader, child_path
from .variant_actions import check_rewrite_hosts

__all__ = [
    "Config",
    "ConfigHolder",
    "Overrides",
    "parse_config",
    "parse_config_text",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_EXPERIMENTS = 1000
MAX_NESTING = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_NAME_PATTERN = KEY_PATTERN
_TOP_LEVEL = (
    "$schema",
    "schema_version",
    "version",
    "experiments",
    "overrides",
    "holdout",
    *SETTINGS_SECTIONS,
)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Forced variants for QA: ``?edgesplit_force=exp:variant,exp2:variant`` or the same cookie."""

    enabled: bool = False
    query_param: str = "edgesplit_force"
    cookie: str = "edgesplit_force"


@dataclass(frozen=True, slots=True)
class Config:
    version: str
    experiments: tuple[Experiment, ...]
    overrides: Overrides = Overrides()
    settings: Settings = Settings()
    schema_version: int = SCHEMA_VERSION
    holdout: Holdout | None = None
    by_key: Mapping[str, Experiment] = field(default_factory=dict, compare=False, repr=False)
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The document this config was parsed from (updaters rewrite it)."""

    def experiment(self, key: str) -> Experiment | None:
        return self.by_key.get(key)


def _overrides(reader: Reader, value: Any, path: str) -> Overrides | None:
    obj = reader.expect_object(value, path, optional=("enabled", "query_param", "cookie"))
    if obj is None:
        return None
    defaults = Overrides()
    enabled = reader.expect_bool(obj.get("enabled", defaults.enabled), child_path(path, "enabled"))
    names = [
        reader.expect_str(
            obj.get(name, getattr(defaults, name)),
            child_path(path, name),
            max_length=64,
            pattern=_NAME_PATTERN,
            pattern_help=KEY_HELP,
        )
        for name in ("query_param", "cookie")
    ]
    if enabled is None or None in names:
        return None
    return Overrides(enabled, names[0] or "", names[1] or "")


def _check_namespaces(reader: Reader, experiments: list[tuple[int, Experiment]]) -> None:
    placed: list[tuple[int, Experiment]] = []
    for index, experiment in experiments:
        if experiment.namespace is None:
            continue
        for other_index, other in placed:
            assert other.namespace is not None
            if experiment.namespace.overlaps(other.namespace):
                reader.fail(
                    f"experiments[{index}].namespace.range",
                    f"overlaps experiments[{other_index}] ({other.key!r}) in namespace "
                    f"{experiment.namespace.id!r}: experiments sharing a namespace "
                    "must not overlap",
                )
        placed.append((index, experiment))


def parse_config(document: Any) -> Config:
    """Validate a decoded JSON document and compile it into a ``Config``."""
    reader = Reader()
    obj = reader.expect_object(
        document, "", required=("schema_version", "version", "experiments"), optional=_TOP_LEVEL
    )
    if obj is None:
        raise ConfigError(reader.problems)
    if "schema_version" in obj and obj["schema_version"] != SCHEMA_VERSION:
        reader.fail(
            "schema_version",
            f"must be {SCHEMA_VERSION} (this edgesplit reads schema version "
            f"{SCHEMA_VERSION}), not {obj['schema_version']!r}"[:200],
        )
    version = reader.expect_str(obj["version"], "version", max_length=128) if "version" in obj else None
    overrides = _overrides(reader, obj["overrides"], "overrides") if "overrides" in obj else Overrides()

    experiments: list[tuple[int, Experiment]] = []
    items = (
        reader.expect_list(obj["experiments"], "experiments", max_items=MAX_EXPERIMENTS)
        if "experiments" in obj
        else None
    )
    seen: dict[str, int] = {}
    for i, item in enumerate(items or []):
        experiment = parse_experiment(reader, item, f"experiments[{i}]")
        if experiment is None:
            continue
        if experiment.key in seen:
            reader.fail(
                f"experiments[{i}].key",
                f"duplicates experiments[{seen[experiment.key]}].key {experiment.key!r}",
            )
            continue
        seen[experiment.key] = i
        experiments.append((i, experiment))
    _check_namespaces(reader, experiments)
    holdout = parse_holdout(reader, obj["holdout"], "holdout", seen) if "holdout" in obj else None
    check_token_budget(reader, [experiment for _, experiment in experiments], version)
    settings = parse_settings(reader, obj)
    check_rewrite_hosts(
        reader, [e for _, e in experiments], [i for i, _ in experiments], settings.pages.rewrite_hosts
    )

    if reader.problems:
        raise ConfigError(reader.problems)
    assert version is not None and overrides is not None
    compiled = tuple(experiment for _, experiment in experiments)
    return Config(
        version=version,
        experiments=compiled,
        overrides=overrides,
        settings=settings,
        holdout=holdout,
        by_key={experiment.key: experiment for experiment in compiled},
        source=document,
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _nesting_exceeds(text: str, limit: int) -> bool:
    """True when brackets nest deeper than ``limit`` outside strings. Checked before parsing:
    a deeply nested document would exhaust the smaller stack of WebAssembly runtimes."""
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def parse_config_text(text: str | bytes) -> Config:
    """Decode JSON text (strictly: no NaN, no duplicate keys, bounded size) and parse it."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ConfigError([Problem("", f"document is larger than {MAX_DOCUMENT_BYTES} bytes")])
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if _nesting_exceeds(text, MAX_NESTING):
            raise ConfigError([Problem("", f"invalid JSON: nested deeper than {MAX_NESTING} levels")])
        document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem("", f"not UTF-8: {exc}")]) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [Problem("", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from None
    except ValueError as exc:
        raise ConfigError([Problem("", f"invalid JSON: {exc}")]) from None
    except RecursionError:
        raise ConfigError([Problem("", "invalid JSON: nested too deeply")]) from None
    return parse_config(document)


class ConfigHolder:
    """The running config. ``offer`` swaps in a new one only when it is whole and valid;
    otherwise the running config stays and the refusal is remembered (and counted)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.refused = 0
        self.last_error: ConfigError | None = None

    @property
    def current(self) -> Config:
        return self._config

    def source_document(self) -> dict[str, Any]:
        """A copy of the running config's document, to edit and ``offer`` back."""
        return json.loads(json.dumps(self._config.source))

    def offer(self, source: str | bytes | Mapping[str, Any]) -> ConfigError | None:
        """Try a new config; returns the error when refused, ``None`` when it now runs."""
        try:
            config = parse_config(source) if isinstance(source, Mapping) else parse_config_text(source)
        except ConfigError as exc:
            self.refused += 1
            self.last_error = exc
            return exc
        self._config = config
        self.last_error = None
        return None
