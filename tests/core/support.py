"""Helpers shared by the core tests (importable on CPython and Pyodide alike)."""

from __future__ import annotations

import json
import os
from typing import Any

from edgesplit.core import Config, parse_config

CASES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cases")


def load_cases(name: str) -> Any:
    with open(os.path.join(CASES_DIR, name), encoding="utf-8") as handle:
        return json.load(handle)


def experiment(key: str = "exp", **fields: Any) -> dict[str, Any]:
    fields.setdefault("variants", [{"key": "control"}, {"key": "treatment"}])
    return {"key": key, **fields}


def document(*experiments: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"schema_version": 1, "version": "test-1", "experiments": list(experiments), **top}


def config(*experiments: dict[str, Any], **top: Any) -> Config:
    return parse_config(document(*experiments, **top))
