"""The size bound of decision tokens, checked when a config is loaded.

A browser silently drops a cookie over 4,096 bytes, and origins refuse request headers over
4-8 KB. A compact (``es2``) token's size is known from the config alone: every experiment
applying at once, the longest visitor id, key id and signature. A config whose worst case would
not fit is refused, with the path and the numbers, instead of losing visitors' cookies later.
"""

from __future__ import annotations

from collections.abc import Sequence

from .experiments import Experiment
from .validation import Reader

__all__ = ["MAX_DECISION_TOKEN_CHARS", "worst_token_chars", "check_token_budget"]

MAX_DECISION_TOKEN_CHARS = 3584
"""Leaves 512 of the Set-Cookie's 4,096 bytes for the cookie's name and attributes, and keeps
the decision header under 4 KB."""
_MAX_KEY_ID = 64
_MAX_VISITOR_ID = 64
_SIGNATURE_CHARS = 86  # Ed25519's 64 bytes; HMAC-SHA256 takes 43
_ENTRY_FLAG_BITS = 3


def _varint_len(value: int) -> int:
    return max(1, -(-value.bit_length() // 7))


def worst_token_chars(experiments: Sequence[Experiment], config_version: str) -> int:
    version = len(config_version.encode("utf-8", "surrogatepass"))
    entries = sum(
        1 + _varint_len((len(e.variants) - 1) << _ENTRY_FLAG_BITS | ((1 << _ENTRY_FLAG_BITS) - 1))
        for e in experiments
    )
    payload = (
        1  # flags
        + 12  # manifest id
        + 5 * 2  # iat, lifetime
        + _varint_len(version)
        + version
        + 1
        + _MAX_VISITOR_ID
        + _varint_len(len(experiments))
        + entries
    )
    return len("es2.") + _MAX_KEY_ID + 1 + -(-payload * 4 // 3) + 1 + _SIGNATURE_CHARS


def check_token_budget(reader: Reader, experiments: Sequence[Experiment], config_version: str | None) -> None:
    worst = worst_token_chars(experiments, config_version or "")
    if worst > MAX_DECISION_TOKEN_CHARS:
        reader.fail(
            "experiments",
            f"{len(experiments)} experiments applying at once would make a decision token of up to "
            f"{worst} characters; the limit is {MAX_DECISION_TOKEN_CHARS} (a browser drops a cookie "
            "over 4,096 bytes): remove experiments or variants (up to 16 variants cost 2 bytes an "
            "experiment, more cost 3)",
        )
