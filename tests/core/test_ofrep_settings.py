"""The ``ofrep`` config section: defaults, validation with paths, and the published schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgesplit.core import ConfigError, parse_config
from edgesplit.schema import schema_text

DIGEST = "ab" * 32


def document(ofrep: Any) -> dict[str, Any]:
    return {"schema_version": 1, "version": "o", "experiments": [], "ofrep": ofrep}


def test_off_by_default_and_off_without_clients() -> None:
    assert not parse_config({"schema_version": 1, "version": "o", "experiments": []}).settings.ofrep.active
    assert not parse_config(document({"enabled": True})).settings.ofrep.active
    on = parse_config(document({"enabled": True, "clients": [{"kind": "web", "key_sha256": DIGEST}]}))
    assert on.settings.ofrep.active and on.settings.ofrep.clients[0].requests_per_minute == 600


@pytest.mark.parametrize(
    ("ofrep", "path"),
    [
        ({"clients": [{"kind": "robot", "key_sha256": DIGEST}]}, "ofrep.clients[0].kind"),
        ({"clients": [{"kind": "web", "key_sha256": "plain-text-key"}]}, "ofrep.clients[0].key_sha256"),
        ({"clients": [{"kind": "web", "key_sha256": DIGEST.upper()}]}, "ofrep.clients[0].key_sha256"),
        (
            {"clients": [{"kind": "web", "key_sha256": DIGEST, "requests_per_minute": 0}]},
            "ofrep.clients[0].requests_per_minute",
        ),
        (
            {"clients": [{"kind": "web", "key_sha256": DIGEST}, {"kind": "server", "key_sha256": DIGEST}]},
            "ofrep.clients[1].key_sha256",
        ),
        ({"cors_origins": ["https://app.example.com/path"]}, "ofrep.cors_origins[0]"),
        ({"cors_origins": ["*"]}, "ofrep.cors_origins[0]"),
        ({"enabled": "yes"}, "ofrep.enabled"),
        ({"keys": []}, "ofrep.keys"),
    ],
)
def test_bad_sections_are_refused_with_the_path_and_the_schema_agrees(ofrep: Any, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(document(ofrep))
    assert path in [p.path for p in caught.value.problems], caught.value.problems
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    duplicate = path == "ofrep.clients[1].key_sha256"  # uniqueness by field: beyond a JSON Schema
    assert validator.is_valid(document(ofrep)) is duplicate


def test_a_good_section_passes_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    good = {
        "enabled": True,
        "clients": [{"kind": "server", "key_sha256": DIGEST, "requests_per_minute": 10}],
        "cors_origins": ["https://app.example.com", "http://localhost:8080"],
    }
    assert validator.is_valid(document(good))
    parse_config(document(good))
