"""The request an isolate is serving, for parts built once per isolate.

The Worker builds its pipeline once per isolate, but ``ctx.waitUntil`` belongs to one request:
work deferred under another request's context is not waited for (or is refused once that
request is over). ``bound(ctx)`` marks the request being handled for the duration of
``handle_fetch``; ``RequestBackground.defer`` hands work to that request's ``waitUntil``.

A ``ContextVar`` rather than an attribute: an isolate serves concurrent requests, each in its
own asyncio task, and each task sees only the context it bound.

Plain Python (no ``js``): tested on CPython with concurrent tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["RequestBackground", "bound", "current_context"]

_CONTEXT: ContextVar[Any] = ContextVar("edgesplit_execution_context", default=None)


@contextmanager
def bound(ctx: Any) -> Iterator[None]:
    """``ctx`` (the request's ExecutionContext) is the current request's until the block ends."""
    token = _CONTEXT.set(ctx)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> Any:
    ctx = _CONTEXT.get()
    if ctx is None:
        raise RuntimeError("no request is being handled here: wrap the handler in request_scope.bound(ctx)")
    return ctx


class RequestBackground:
    """The BackgroundPort of a per-isolate pipeline: ``defer`` goes to the current request's
    ``ctx.waitUntil`` (the SDK patches it to take Python coroutines as well as JS promises)."""

    def defer(self, work: Awaitable[Any]) -> None:
        try:
            ctx = current_context()
        except RuntimeError:
            close = getattr(work, "close", None)
            if close is not None:
                close()  # never awaited: say so here, not as a warning at collection time
            raise
        ctx.waitUntil(work)
