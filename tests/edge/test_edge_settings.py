"""EdgeSettings: every Worker variable parsed, bad values refused by name, secrets never echoed.
Plain Python, run here on CPython; the bundled Worker's tests (test_worker_isolate.py) use it under Pyodide."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import defaults
from edgesplit.edge.settings import SECRETS, VARIABLES, EdgeSettings, SettingsError, read_values
from edgesplit.pipeline.track_guard import TrackLimits
from servers import KEYRING_JSON

EVERY_VARIABLE = {
    "EDGESPLIT_ADMIN_TOKEN": "a" * 40,
    "EDGESPLIT_CONFIG_JSON": '{"schema_version": 1}',
    "EDGESPLIT_CONFIG_KEY": "experiments.json",
    "EDGESPLIT_CONFIG_TTL": "5",
    "EDGESPLIT_DRAIN_BACKOFF": "0.5",
    "EDGESPLIT_DRAIN_BATCHES": "3",
    "EDGESPLIT_DRAIN_PACE": "0",
    "EDGESPLIT_DRAIN_TIMEOUT": "4.5",
    "EDGESPLIT_KEYS": KEYRING_JSON,
    "EDGESPLIT_ORIGIN": "https://origin.example.com",
    "EDGESPLIT_ORIGIN_TIMEOUT": "12",
    "EDGESPLIT_QUEUE_DROP": "newest",
    "EDGESPLIT_QUEUE_MAX_AGE": "3600",
    "EDGESPLIT_QUEUE_MAX_BYTES": "1048576",
    "EDGESPLIT_QUEUE_MAX_EVENTS": "500",
    "EDGESPLIT_QUEUE_SHARDS": "16",
    "EDGESPLIT_TRACK_LIMITS": '{"per_token": 2}',
    "EDGESPLIT_TRUSTED_UPSTREAMS": "10.0.0.0/8, 192.0.2.7",
    "EDGESPLIT_VENDORS": '[{"name": "ph", "kind": "posthog", "api_key": "phc_secret"}]',
    "EDGESPLIT_VENDOR_URL": "https://events.example.com/batch",
}


def test_every_variable_is_parsed() -> None:
    assert set(EVERY_VARIABLE) == set(VARIABLES)  # a new variable needs a line here
    s = EdgeSettings.from_env(SimpleNamespace(**EVERY_VARIABLE))
    assert s.admin_token == "a" * 40
    assert s.config_json == '{"schema_version": 1}'
    assert s.config_key == "experiments.json"
    assert s.config_ttl_seconds == 5
    assert s.drain.base_backoff_seconds == 0.5
    assert s.drain.batches_per_run == 3
    assert s.drain.pace_seconds == 0
    assert s.drain_timeout_seconds == 4.5
    assert s.keyring is not None and s.keyring.signer.id == "test-key"
    assert s.origin == "https://origin.example.com"
    assert s.origin_timeout_seconds == 12
    assert s.queue_bounds.drop == "newest"
    assert s.queue_bounds.max_age_seconds == 3600
    assert s.queue_bounds.max_bytes == 1 << 20
    assert s.queue_bounds.max_events == 500
    assert s.queue_shards == 16
    assert s.track_limits == TrackLimits(per_token=2)
    assert s.trusted_upstreams == ("10.0.0.0/8", "192.0.2.7")
    assert sorted(s.vendors) == ["default", "ph"]


def test_unset_and_empty_variables_take_the_shared_defaults() -> None:
    s = EdgeSettings.from_env(SimpleNamespace(EDGESPLIT_QUEUE_SHARDS="", EDGESPLIT_ORIGIN=None))
    assert s == EdgeSettings()
    assert (s.config_key, s.config_ttl_seconds) == (defaults.CONFIG_KEY, defaults.CONFIG_TTL_SECONDS)
    assert s.queue_shards == defaults.EDGE_QUEUE_SHARDS
    assert s.origin is None and s.keyring is None and s.vendors == {}


def test_numbers_written_unquoted_in_wrangler_toml_are_taken() -> None:
    s = EdgeSettings.from_env(SimpleNamespace(EDGESPLIT_QUEUE_SHARDS=16, EDGESPLIT_CONFIG_TTL=2.5))
    assert (s.queue_shards, s.config_ttl_seconds) == (16, 2.5)


BAD = [
    ("EDGESPLIT_QUEUE_SHARDS", "eight", "whole number of at least 1 and at most 1024, got 'eight'"),
    ("EDGESPLIT_QUEUE_SHARDS", "0", "at least 1"),
    ("EDGESPLIT_QUEUE_SHARDS", "5000", "at most 1024"),
    ("EDGESPLIT_QUEUE_SHARDS", "2.5", "whole number"),
    ("EDGESPLIT_QUEUE_SHARDS", True, "whole number"),
    ("EDGESPLIT_QUEUE_SHARDS", "\u0663", "whole number"),  # Arabic-Indic three: int() would take it
    ("EDGESPLIT_QUEUE_MAX_EVENTS", "-1", "at least 1"),
    ("EDGESPLIT_QUEUE_MAX_BYTES", "64MB", "whole number"),
    ("EDGESPLIT_QUEUE_MAX_AGE", "0", "above 0"),
    ("EDGESPLIT_QUEUE_DROP", "random", "must be one of oldest, newest, got 'random'"),
    ("EDGESPLIT_CONFIG_TTL", "nan", "must be a number at least 0, got 'nan'"),
    ("EDGESPLIT_CONFIG_TTL", "inf", "at least 0"),
    ("EDGESPLIT_CONFIG_TTL", "-1", "at least 0"),
    ("EDGESPLIT_ORIGIN_TIMEOUT", "0", "above 0"),
    ("EDGESPLIT_ORIGIN_TIMEOUT", "1e999", "above 0"),
    ("EDGESPLIT_DRAIN_TIMEOUT", "soon", "above 0"),
    ("EDGESPLIT_DRAIN_BATCHES", "0", "at least 1"),
    ("EDGESPLIT_DRAIN_PACE", "-0.1", "at least 0"),
    ("EDGESPLIT_DRAIN_BACKOFF", "0", "above 0"),
    ("EDGESPLIT_ORIGIN", "ftp://origin.example.com", "http(s) URL"),
    ("EDGESPLIT_ORIGIN", "https://", "http(s) URL"),
    ("EDGESPLIT_ORIGIN", "https://origin.example.com/ x", "http(s) URL"),
    ("EDGESPLIT_VENDOR_URL", "events.example.com", "http(s) URL"),
    ("EDGESPLIT_CONFIG_KEY", 5.5, "must be text"),
    ("EDGESPLIT_TRACK_LIMITS", "{not json", "track limits: not JSON"),
    ("EDGESPLIT_TRACK_LIMITS", '{"per_token": -1}', "per_token must be a number >= 0"),
    ("EDGESPLIT_TRACK_LIMITS", '{"x": 1}', "unknown field 'x'"),
    ("EDGESPLIT_TRUSTED_UPSTREAMS", "10.0.0.0/8, nope", "'nope' is not an address or network"),
    ("EDGESPLIT_KEYS", "not json", "invalid keyring: not JSON"),
    ("EDGESPLIT_KEYS", '{"keys": []}', "must have at least 1 item"),
    ("EDGESPLIT_VENDORS", '{"kind": "webhook"}', "a JSON list of objects"),
    ("EDGESPLIT_VENDORS", '[{"kind": "posthog"}]', "missing field 'api_key'"),
    ("EDGESPLIT_VENDORS", '[{"kind": "carrier-pigeon"}]', "unknown vendor kind"),
    ("EDGESPLIT_VENDORS", '[{"kind": "webhook", "url": "file:///etc/passwd"}]', "http(s) URL"),
]


@pytest.mark.parametrize("name, value, reason", BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_a_bad_value_is_refused_with_the_variable_and_the_reason(name: str, value: Any, reason: str) -> None:
    with pytest.raises(SettingsError) as refused:
        EdgeSettings.from_env(SimpleNamespace(**{name: value}))
    assert [problem[0] for problem in refused.value.problems] == [name]
    assert reason in refused.value.problems[0][1]
    assert f"\n  {name}: " in str(refused.value)


def test_every_bad_variable_is_named_at_once_and_the_fallback_keeps_the_good_ones() -> None:
    env = SimpleNamespace(
        EDGESPLIT_QUEUE_SHARDS="eight",
        EDGESPLIT_ORIGIN="https://origin.example.com",
        EDGESPLIT_ORIGIN_TIMEOUT="-5",
        EDGESPLIT_CONFIG_TTL="7",
    )
    with pytest.raises(SettingsError) as refused:
        EdgeSettings.from_env(env)
    assert str(refused.value).startswith("2 problems in the Worker's variables\n")
    assert [name for name, _ in refused.value.problems] == [
        "EDGESPLIT_ORIGIN_TIMEOUT",
        "EDGESPLIT_QUEUE_SHARDS",
    ]
    fallback = refused.value.fallback
    assert fallback.origin == "https://origin.example.com" and fallback.config_ttl_seconds == 7
    assert fallback.queue_shards == defaults.EDGE_QUEUE_SHARDS
    assert fallback.origin_timeout_seconds == defaults.ORIGIN_TIMEOUT_SECONDS


@pytest.mark.parametrize(
    "name, value",
    [
        ("EDGESPLIT_KEYS", '{"keys": [{"id": "k", "secret": "hunter2-hunter2"}]}'),
        ("EDGESPLIT_KEYS", "hunter2-not-json"),
        ("EDGESPLIT_VENDORS", '[{"kind": "posthog", "api_key": "hunter2", "host": "gopher://x"}]'),
        ("EDGESPLIT_VENDORS", '[{"kind": "webhook", "url": "hunter2", "auth_value": "hunter2"}]'),
        ("EDGESPLIT_ADMIN_TOKEN", 12345),
    ],
)
def test_a_refused_secret_is_named_never_repeated(name: str, value: Any) -> None:
    assert name in SECRETS
    with pytest.raises(SettingsError) as refused:
        EdgeSettings.from_env(SimpleNamespace(**{name: value}))
    assert refused.value.problems[0][0] == name
    assert "hunter2" not in str(refused.value) and "12345" not in str(refused.value)
    fallback = refused.value.fallback
    assert "hunter2" not in repr(fallback)


def test_secrets_stay_out_of_the_repr() -> None:
    s = EdgeSettings.from_env(SimpleNamespace(**EVERY_VARIABLE))
    shown = repr(s)
    assert "a" * 40 not in shown and "phc_secret" not in shown and "AAECAwQF" not in shown
    assert "schema_version" not in shown


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    with pytest.raises(SettingsError) as refused:
        EdgeSettings.from_env(SimpleNamespace(EDGESPLIT_QUEUE_DROP="x" * 10_000))
    assert len(str(refused.value)) < 200


def test_read_values_keeps_what_is_set_and_refuses_odd_types_by_name() -> None:
    class Env:
        EDGESPLIT_QUEUE_SHARDS = "4"
        EDGESPLIT_ORIGIN = ""
        EDGESPLIT_CONFIG_KEY = None
        EDGESPLIT_CONFIG_JSON = object()
        UNRELATED = "x"

    values = read_values(Env())
    assert set(values) == {"EDGESPLIT_QUEUE_SHARDS", "EDGESPLIT_CONFIG_JSON"}
    with pytest.raises(SettingsError) as refused:
        EdgeSettings.from_values(values)
    assert refused.value.problems[0] == ("EDGESPLIT_CONFIG_JSON", refused.value.problems[0][1])
    assert "must be text" in refused.value.problems[0][1]


@given(
    st.dictionaries(st.sampled_from(VARIABLES), st.one_of(st.text(max_size=80), st.integers(), st.floats()))
)
def test_any_values_give_settings_or_a_named_refusal(values: dict[str, Any]) -> None:
    try:
        settings = EdgeSettings.from_values(values)
    except SettingsError as refused:
        assert refused.problems and all(name in values for name, _ in refused.problems)
        assert isinstance(refused.fallback, EdgeSettings)
    else:
        assert 1 <= settings.queue_shards <= 1024 and settings.origin_timeout_seconds > 0


@given(st.text(max_size=200))
def test_hostile_json_in_the_json_variables_is_refused_cleanly(text: str) -> None:
    for name in ("EDGESPLIT_TRACK_LIMITS", "EDGESPLIT_VENDORS", "EDGESPLIT_KEYS"):
        try:
            EdgeSettings.from_values({name: text})
        except SettingsError as refused:
            assert refused.problems[0][0] == name


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for name in ("EDGESPLIT_TRACK_LIMITS", "EDGESPLIT_VENDORS", "EDGESPLIT_KEYS"):
        with pytest.raises(SettingsError) as refused:
            EdgeSettings.from_values({name: deep})
        assert refused.value.problems[0][0] == name
