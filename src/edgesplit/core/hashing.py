"""Deterministic hashes of (seed, id) pairs onto [0, 1).

Three schemes, chosen per experiment:

- ``edgesplit`` (native, the default): BLAKE2s-256 over a domain tag, the length-prefixed
  seed and the id (UTF-8), the first 53 bits of the digest (big-endian) as a fraction.
  C-backed in CPython's and Pyodide's ``hashlib`` (and in Node, Go, Rust...), uniform, and
  the seed's length prefix keeps ``("ab", "c")`` and ``("a", "bc")`` apart. BLAKE2s rather
  than SHA-256: a third faster on short ids here and on WebAssembly's 32-bit words.
- ``growthbook-v1`` / ``growthbook-v2``: GrowthBook's FNV-1a 32 schemes, over UTF-16 code
  units exactly as the JS SDK's ``charCodeAt`` loop and the Python SDK (4.x) compute them, so
  an assignment made here equals the vendor SDK's for any Unicode id.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from collections.abc import Callable

__all__ = [
    "HASH_SCHEMES",
    "Hasher",
    "fnv1a32",
    "growthbook_hash",
    "make_hasher",
    "make_namespace_hasher",
    "native_hash",
]

Hasher = Callable[[str], float]

HASH_SCHEMES = ("edgesplit", "growthbook-v1", "growthbook-v2")

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK32 = 0xFFFFFFFF
_LITTLE_ENDIAN = sys.byteorder == "little"
_EXPERIMENT_DOMAIN = b"edgesplit/exp/1\x00"
_NAMESPACE_DOMAIN = b"edgesplit/ns/1\x00"
_HOLDOUT_DOMAIN = b"edgesplit/holdout/1\x00"
_UNIT = 1.0 / (1 << 53)  # a power of two: multiplying by it is exact
_U64 = struct.Struct(">Q")


def _utf16_units(text: str) -> memoryview | list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    if _LITTLE_ENDIAN:
        return memoryview(data).cast("H")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


def _fnv1a32_continue(hval: int, text: str) -> int:
    # For ASCII text the UTF-16 code units are the bytes themselves, and iterating bytes is
    # the fastest loop CPython offers; other text goes through its UTF-16 code units.
    units = text.encode("ascii") if text.isascii() else _utf16_units(text)
    for unit in units:
        hval = ((hval ^ unit) * _FNV_PRIME) & _MASK32
    return hval


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over UTF-16 code units (GrowthBook's definition)."""
    return _fnv1a32_continue(_FNV_OFFSET, text)


def growthbook_hash(seed: str, value: str, version: int) -> float:
    """GrowthBook's ``hash(seed, value, version)``: v1 on a 1/1000 grid, v2 on 1/10000."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    raise ValueError(f"unknown GrowthBook hash version {version!r}")


def _native_prefix(domain: bytes, seed: str) -> hashlib.blake2s:
    seed_bytes = seed.encode("utf-8", "surrogatepass")
    return hashlib.blake2s(domain + len(seed_bytes).to_bytes(4, "big") + seed_bytes)


def native_hash(seed: str, value: str) -> float:
    """The ``edgesplit`` scheme for one (seed, id) pair."""
    return make_hasher("edgesplit", seed)(value)


def _native_hasher(domain: bytes, seed: str) -> Hasher:
    prefix = _native_prefix(domain, seed)

    copy = prefix.copy
    unpack = _U64.unpack_from

    def hasher(value: str) -> float:
        state = copy()
        try:
            state.update(value.encode())
        except UnicodeEncodeError:  # lone surrogates: hash their WTF-8 bytes
            state.update(value.encode("utf-8", "surrogatepass"))
        return (unpack(state.digest())[0] >> 11) * _UNIT

    return hasher


def _growthbook_v1_hasher(seed: str) -> Hasher:
    def hasher(value: str) -> float:
        return (_fnv1a32_continue(fnv1a32(value), seed) % 1000) / 1000

    return hasher


def _growthbook_v2_hasher(seed: str) -> Hasher:
    # v2 hashes seed + value: the FNV state after the seed is the same for every visitor.
    after_seed = fnv1a32(seed)

    def hasher(value: str) -> float:
        inner = _fnv1a32_continue(after_seed, value)
        return (fnv1a32(str(inner)) % 10000) / 10000

    return hasher


def make_hasher(scheme: str, seed: str) -> Hasher:
    """A function from id to [0, 1) for one experiment, with per-experiment work done once."""
    if scheme == "edgesplit":
        return _native_hasher(_EXPERIMENT_DOMAIN, seed)
    if scheme == "growthbook-v1":
        return _growthbook_v1_hasher(seed)
    if scheme == "growthbook-v2":
        return _growthbook_v2_hasher(seed)
    raise ValueError(f"unknown hash scheme {scheme!r}")


def make_namespace_hasher(scheme: str, namespace_id: str) -> Hasher:
    """The hash that places an id inside a namespace.

    GrowthBook always uses its v1 hash with seed ``"__" + namespace id``, whatever the
    experiment's own hash version; the native scheme uses its own domain tag so a namespace
    never correlates with an experiment seeded by the same string.
    """
    if scheme == "edgesplit":
        return _native_hasher(_NAMESPACE_DOMAIN, namespace_id)
    return _growthbook_v1_hasher("__" + namespace_id)


def make_holdout_hasher(seed: str) -> Hasher:
    """The hash that puts an id in the global holdout: its own domain tag, so the holdout never
    correlates with an experiment or a namespace seeded by the same string."""
    return _native_hasher(_HOLDOUT_DOMAIN, seed)
