"""edgesplit: deterministic, signed, cache-safe A/B decisions at the edge.

The public API. Importing it pulls in only the standard library (it runs at the edge too).
"""

from __future__ import annotations

import os
from typing import Any

from .core import (
    Assignment,
    Config,
    ConfigError,
    DecisionClaims,
    EdgesplitError,
    Keyring,
    KeyringError,
    Problem,
    Verification,
    assign,
    parse_config,
    parse_config_text,
    parse_keyring,
    sign_token,
    verify_token,
)

__all__ = [
    "Assignment",
    "Config",
    "ConfigError",
    "DecisionClaims",
    "EdgesplitError",
    "Keyring",
    "KeyringError",
    "Problem",
    "Verification",
    "assign",
    "load_config",
    "load_keyring",
    "sign_token",
    "verify_token",
]

__version__ = "0.1.0"


def load_config(source: Any) -> Config:
    """A ``Config`` from a path, JSON text (str or bytes) or an already decoded dict.

    A ``str`` whose first non-blank character is ``{`` is JSON text; any other ``str`` or
    path-like is a file path. Raises ``ConfigError`` listing every problem.
    """
    if isinstance(source, dict):
        return parse_config(source)
    if isinstance(source, bytes):
        return parse_config_text(source)
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return parse_config_text(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ConfigError([Problem("", f"cannot read {os.fspath(source)!r}: {exc.strerror}")]) from None
        return parse_config_text(data)
    raise TypeError(f"load_config takes a path, JSON text or a dict, not {type(source).__name__}")


def load_keyring(source: Any) -> Keyring:
    """A ``Keyring`` from JSON text or a dict; EdDSA keys use ``cryptography`` if installed."""
    from .core.keys import parse_keyring_text

    try:
        from .ed25519 import ed25519_key
    except ImportError:  # cryptography is an optional extra; HS256 needs nothing
        ed25519_key = None  # type: ignore[assignment]
    ed25519 = ed25519_key
    if isinstance(source, dict):
        return parse_keyring(source, ed25519=ed25519)
    return parse_keyring_text(source, ed25519=ed25519)
