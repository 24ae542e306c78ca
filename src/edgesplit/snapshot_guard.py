"""What workerd's deploy-time snapshot forbids, as a context manager: inside it, randomness
and the clock raise. Import your Worker's modules inside it to prove they use neither at
import time (edgesplit's tests do, on CPython and in the Pyodide harness)."""

from __future__ import annotations

import os
import random
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["entropy_forbidden"]

_GUARDED = (
    (random, "random"),
    (random, "getrandbits"),
    (os, "urandom"),
    (secrets, "token_bytes"),
    (secrets, "token_urlsafe"),
    (time, "time"),
    (time, "monotonic"),
    (uuid, "uuid4"),
)


def _forbidden(*args: object, **kwargs: object) -> None:
    raise RuntimeError("entropy or clock used at import time (workerd's snapshot forbids it)")


@contextmanager
def entropy_forbidden() -> Iterator[None]:
    originals = [(module, name, getattr(module, name)) for module, name in _GUARDED]
    for module, name, _ in originals:
        setattr(module, name, _forbidden)
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
