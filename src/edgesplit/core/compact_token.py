"""The ``es2`` payload: a decision packed as numbers into a manifest, two bytes an experiment.

Layout (then base64url, no padding), every integer an unsigned LEB128 varint in its shortest
form (at most 5 bytes)::

    flags                 token flags; none defined yet: a verifier refuses bits it does not know
    manifest id           12 raw bytes (see ``manifest.py``)
    iat                   issued at, epoch seconds
    lifetime              exp - iat, seconds (so exp can never precede iat)
    config version        varint length + UTF-8
    visitor id            varint length + UTF-8
    count                 number of entries
    count x (gap, code)   gap: position in the manifest minus the previous position minus 1
                          (the first: its position), so positions strictly increase;
                          code: variant index << 3 | entry flags

Entry flags: bit 0 ``held out`` (served the control without being in the experiment, the
``o`` list of ``es1``); bits 1 and 2 are reserved and refused until a verifier knows them.
With gaps under 128 and fewer than 16 variants an entry takes exactly 2 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .b64 import b64url_decode, b64url_encode
from .manifest import MANIFEST_ID_BYTES, Manifest, ManifestLookup

__all__ = [
    "Packed",
    "pack",
    "unpack",
    "ENTRY_HELD_OUT",
    "ENTRY_HOLDOUT",
    "ENTRY_FLAG_BITS",
    "TOKEN_FLAGS_KNOWN",
]

ENTRY_FLAG_BITS: Final = 3
ENTRY_HELD_OUT: Final = 1
ENTRY_HOLDOUT: Final = 2
"""Held out of this experiment by the global holdout (also ENTRY_HELD_OUT: not exposed)."""
# A new flag: a bit here (and in js/edgesplit-verify.mjs, js/edgesplit-client.js), then known.
ENTRY_FLAGS_KNOWN: Final = ENTRY_HELD_OUT | ENTRY_HOLDOUT
TOKEN_FLAGS_KNOWN: Final = 0
MAX_VARINT_BYTES: Final = 5


@dataclass(frozen=True, slots=True)
class Packed:
    """A decoded ``es2`` payload with names resolved through its manifest."""

    manifest: Manifest
    issued_at: int
    expires_at: int
    config_version: str
    visitor_id: str
    assignments: dict[str, str]
    held_out: frozenset[str]
    holdout: frozenset[str] = frozenset()
    flags: int = 0


def _varint(value: int, out: bytearray) -> None:
    if value < 0 or value >= 1 << (7 * MAX_VARINT_BYTES):
        raise ValueError(f"{value} does not fit an es2 varint")
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _text(value: str, out: bytearray) -> None:
    data = value.encode("utf-8", "surrogatepass")
    _varint(len(data), out)
    out += data


PackedBody = tuple[Manifest, bytes, bytes]
"""The manifest it was packed against, what precedes the times, what follows them."""
BODY_MEMO_MAX: Final = 4096
PACKED_BODIES: dict[tuple[object, ...], PackedBody] = {}
"""Everything but the times, remembered: a returning visitor's header and cookie are re-signed
every request with the same entries. Forgotten all at once when full (bounded under hostile
input); a hit needs the very manifest object it was packed against."""


def _pack_body(
    manifest: Manifest,
    visitor_id: str,
    assignments: Mapping[str, str],
    held_out: frozenset[str],
    config_version: str,
    holdout: frozenset[str],
    flags: int,
) -> PackedBody:
    head = bytearray()
    _varint(flags, head)
    head += b64url_decode(manifest.id) or b""
    out = bytearray()
    _text(config_version, out)
    _text(visitor_id, out)
    entries = []
    for key, variant in assignments.items():
        position = manifest.position.get(key)
        if position is None:
            raise ValueError(f"experiment {key!r} is not in manifest {manifest.id}")
        variants = manifest.experiments[position][1]
        if variant not in variants:
            raise ValueError(f"variant {variant!r} is not one of {key!r}'s in manifest {manifest.id}")
        flags_here = (ENTRY_HELD_OUT if key in held_out else 0) | (ENTRY_HOLDOUT if key in holdout else 0)
        entries.append((position, variants.index(variant) << ENTRY_FLAG_BITS | flags_here))
    entries.sort()
    _varint(len(entries), out)
    previous = -1
    for position, code in entries:
        _varint(position - previous - 1, out)
        _varint(code, out)
        previous = position
    return manifest, bytes(head), bytes(out)


def pack(
    manifest: Manifest,
    *,
    visitor_id: str,
    assignments: Mapping[str, str],
    held_out: frozenset[str],
    config_version: str,
    holdout: frozenset[str] = frozenset(),
    issued_at: int,
    expires_at: int,
    flags: int = 0,
) -> bytes:
    """The payload bytes; ``ValueError`` when an assignment is not in the manifest."""
    times = bytearray()
    _varint(issued_at, times)
    _varint(expires_at - issued_at, times)
    key = (manifest.id, flags, config_version, visitor_id, tuple(assignments.items()), held_out, holdout)
    body = PACKED_BODIES.get(key)
    if body is None or body[0] is not manifest:
        body = _pack_body(manifest, visitor_id, assignments, held_out, config_version, holdout, flags)
        if len(PACKED_BODIES) >= BODY_MEMO_MAX:
            PACKED_BODIES.clear()
        PACKED_BODIES[key] = body
    return body[1] + times + body[2]


class _Reader:
    __slots__ = ("data", "at")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def varint(self) -> int:
        value = 0
        for shift in range(0, 7 * MAX_VARINT_BYTES, 7):
            if self.at >= len(self.data):
                raise ValueError("truncated")
            byte = self.data[self.at]
            self.at += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if byte == 0 and shift:
                    raise ValueError("varint not in its shortest form")
                return value
        raise ValueError("varint too long")

    def raw(self, size: int) -> bytes:
        if size > len(self.data) - self.at:
            raise ValueError("truncated")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def text(self) -> str:
        return self.raw(self.varint()).decode("utf-8", "surrogatepass")


def _entries(
    reader: _Reader, count: int, manifest: Manifest
) -> tuple[dict[str, str], frozenset[str], frozenset[str]] | None:
    """The (gap, code) pairs, named. One-byte varints (nearly all) are read inline: at 500
    experiments this loop is most of a verification's CPU time."""
    data, at, experiments = reader.data, reader.at, manifest.experiments
    unknown_flags = ((1 << ENTRY_FLAG_BITS) - 1) & ~ENTRY_FLAGS_KNOWN
    assignments: dict[str, str] = {}
    held_out = []
    holdout = []
    position = -1
    for _ in range(count):
        pair = data[at : at + 2]
        if len(pair) == 2 and pair[0] < 0x80 and pair[1] < 0x80:
            gap, code = pair
            at += 2
        else:
            reader.at = at
            gap, code = reader.varint(), reader.varint()
            at = reader.at
        position += gap + 1
        if position >= len(experiments) or code & unknown_flags:
            return None
        key, variants = experiments[position]
        index = code >> ENTRY_FLAG_BITS
        if index >= len(variants):
            return None
        assignments[key] = variants[index]
        if code & ENTRY_HELD_OUT:
            held_out.append(key)
        if code & ENTRY_HOLDOUT:
            holdout.append(key)
    reader.at = at
    return assignments, frozenset(held_out), frozenset(holdout)


def unpack(data: bytes, manifests: ManifestLookup | None) -> Packed | str:
    """The payload with names, or the rejection reason (``malformed``/``unknown_manifest``)."""
    try:
        reader = _Reader(data)
        flags = reader.varint()
        manifest_id = b64url_encode(reader.raw(MANIFEST_ID_BYTES))
        issued_at = reader.varint()
        expires_at = issued_at + reader.varint()
        config_version = reader.text()
        visitor_id = reader.text()
        count = reader.varint()
        if flags & ~TOKEN_FLAGS_KNOWN:
            return "malformed"
        manifest = manifests(manifest_id) if manifests is not None else None
        if manifest is None or manifest.id != manifest_id:
            return "unknown_manifest"
        if count > len(manifest.experiments):
            return "malformed"
        entries = _entries(reader, count, manifest)
        if entries is None or reader.at != len(data):
            return "malformed"
        assignments, held_out, holdout = entries
    except (ValueError, UnicodeDecodeError):
        return "malformed"
    return Packed(
        manifest, issued_at, expires_at, config_version, visitor_id, assignments, held_out, holdout, flags
    )
