"""The published JSON Schema of the configuration document (for editor completion)."""

from __future__ import annotations

import os

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.schema.json")


def schema_text() -> str:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return handle.read()
