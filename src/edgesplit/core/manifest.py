"""The manifest: the names behind a compact (``es2``) decision token's numbers.

An ``es2`` token names experiments and variants by position, so that it grows by about two
bytes per experiment instead of by the length of the names. The positions refer to a
manifest: the config's experiments in config order, each with its variants in config order::

    {"edgesplit_manifest":1,"experiments":[["hero",["control","bold"]],["price",["a","b"]]]}

That exact text (canonical: compact, ASCII, this key order) is what edgesplit publishes at
``<admin prefix>/manifest/<id>`` and what every verifier hashes: the manifest id is base64url
of the first 12 bytes of its SHA-256, and the signed token carries it. A verifier therefore
never decodes positions against the wrong list, and a manifest fetched over the network is
checked against the signed id before it is trusted.

The id depends only on the keys and their order, not on weights, pauses or the config's
version string: bandit and guardrail updates (new versions, same experiments) keep the id,
so tokens issued before them still decode.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .b64 import b64url_encode

__all__ = [
    "Manifest",
    "ManifestBook",
    "ManifestLookup",
    "manifest_id_of",
    "MANIFEST_ID_BYTES",
    "MANIFEST_ID_PATTERN",
]

MANIFEST_FORMAT = 1
MANIFEST_ID_BYTES = 12
MANIFEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

ManifestLookup = Callable[[str], "Manifest | None"]
"""Manifest id -> the manifest, or ``None`` when this verifier does not know it."""


class _HasExperiments(Protocol):
    @property
    def experiments(self) -> Iterable[Any]: ...


def manifest_id_of(text: bytes) -> str:
    return b64url_encode(hashlib.sha256(text).digest()[:MANIFEST_ID_BYTES])


@dataclass(frozen=True, slots=True)
class Manifest:
    experiments: tuple[tuple[str, tuple[str, ...]], ...]
    text: str = field(compare=False, repr=False, default="")
    id: str = field(compare=False, default="")
    position: dict[str, int] = field(compare=False, repr=False, default_factory=dict)

    @classmethod
    def of(cls, experiments: Iterable[tuple[str, Iterable[str]]]) -> Manifest:
        listed = tuple((key, tuple(variants)) for key, variants in experiments)
        doc = {"edgesplit_manifest": MANIFEST_FORMAT, "experiments": [[k, list(v)] for k, v in listed]}
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
        position = {key: i for i, (key, _) in enumerate(listed)}
        return cls(listed, text, manifest_id_of(text.encode("ascii")), position)

    @classmethod
    def from_config(cls, config: _HasExperiments) -> Manifest:
        return cls.of((e.key, (v.key for v in e.variants)) for e in config.experiments)

    @classmethod
    def parse(cls, text: str | bytes) -> Manifest | None:
        """A published manifest's text, or ``None`` unless it is one (and canonical)."""
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        if len(raw) > MAX_MANIFEST_BYTES:
            return None
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(doc, dict) or doc.get("edgesplit_manifest") != MANIFEST_FORMAT:
            return None
        items = doc.get("experiments")
        if not isinstance(items, list) or not all(_valid_entry(item) for item in items):
            return None
        manifest = cls.of((item[0], item[1]) for item in items)
        return manifest if manifest.text.encode("ascii") == raw else None


def _valid_entry(item: Any) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and isinstance(item[0], str)
        and _NAME.fullmatch(item[0]) is not None
        and isinstance(item[1], list)
        and len(item[1]) >= 1
        and all(isinstance(v, str) and _NAME.fullmatch(v) is not None for v in item[1])
    )


class ManifestBook:
    """The manifests a verifier knows, by id; the oldest are forgotten beyond ``capacity``.

    Use it as the ``manifests`` argument of ``verify_token`` (it is callable)."""

    def __init__(self, manifests: Iterable[Manifest] = (), *, capacity: int = 32) -> None:
        self.capacity = capacity
        self._known: OrderedDict[str, Manifest] = OrderedDict()
        for manifest in manifests:
            self.add(manifest)

    def add(self, manifest: Manifest) -> Manifest:
        self._known[manifest.id] = manifest
        self._known.move_to_end(manifest.id)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)
        return manifest

    def __call__(self, manifest_id: str) -> Manifest | None:
        return self._known.get(manifest_id)

    def __contains__(self, manifest_id: object) -> bool:
        return manifest_id in self._known

    def __len__(self) -> int:
        return len(self._known)
