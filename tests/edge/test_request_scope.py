"""A pipeline built once per isolate defers each request's work to that request's own
``ctx.waitUntil``, even when requests interleave."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from edgesplit.edge.request_scope import RequestBackground, bound, current_context


class Context:
    """An ExecutionContext: waitUntil keeps the work, and refuses it once the request is over."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.work: list[Any] = []
        self.finished = False

    def waitUntil(self, work: Any) -> None:
        if self.finished:
            raise RuntimeError(f"waitUntil on finished request {self.name}")
        self.work.append(work)


async def _job(label: str) -> str:
    return label


async def _request(background: RequestBackground, ctx: Context, steps: int) -> None:
    with bound(ctx):
        for step in range(steps):
            background.defer(_job(f"{ctx.name}:{step}"))
            await asyncio.sleep(0)  # let the other requests run in between
    for work in ctx.work:
        await work
    ctx.finished = True


async def test_each_context_receives_exactly_its_own_work() -> None:
    background = RequestBackground()
    received: dict[str, list[str]] = {}

    class Recording(Context):
        def waitUntil(self, work: Any) -> None:
            super().waitUntil(work)
            received.setdefault(self.name, []).append(work.cr_frame.f_locals["label"])

    contexts = [Recording(f"r{n}") for n in range(5)]
    await asyncio.gather(*(_request(background, ctx, 3) for ctx in contexts))
    assert received == {ctx.name: [f"{ctx.name}:{step}" for step in range(3)] for ctx in contexts}
    assert all(work.cr_frame is None for ctx in contexts for work in ctx.work)  # all ran to the end


async def test_the_binding_ends_with_the_request() -> None:
    ctx = Context("only")
    with bound(ctx):
        assert current_context() is ctx
    with pytest.raises(RuntimeError, match="no request is being handled"):
        current_context()


async def test_deferring_outside_a_request_is_an_error_not_a_lost_coroutine() -> None:
    work = _job("orphan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeError, match="no request is being handled"):
            RequestBackground().defer(work)
    assert work.cr_frame is None  # closed: no "never awaited" warning later
