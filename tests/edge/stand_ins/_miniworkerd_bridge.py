"""How the harness calls into Python: entrypoints, Durable Object RPC, alarms."""

import importlib
from types import ModuleType
from typing import Any

from workers import Request, python_from_rpc, python_to_rpc


def import_entry_with_entropy_forbidden(name: str = "entry") -> ModuleType:
    """Import the main module (and so every edge module) with randomness and the clock raising,
    as workerd's snapshot does at deploy time."""
    from edgesplit.snapshot_guard import entropy_forbidden

    with entropy_forbidden():
        return importlib.import_module(name)


async def call_fetch(cls: type, js_request: Any, env: Any, ctx: Any) -> Any:
    instance = cls(ctx, env)
    response = await instance.fetch(Request(js_request))
    return getattr(response, "js_object", response)


async def call_scheduled(cls: type, env: Any, ctx: Any) -> None:
    instance = cls(ctx, env)
    await instance.scheduled(None, env, ctx)


def make_object(cls: type, state: Any, env: Any) -> Any:
    return cls(state, env)


async def invoke(instance: Any, name: str, js_args: Any) -> Any:
    args = [python_from_rpc(arg) for arg in js_args]
    result = await getattr(instance, name)(*args)
    return python_to_rpc(result)


async def run_alarm(instance: Any, retry_count: int) -> None:
    info = {"retryCount": retry_count, "isRetry": retry_count > 0}
    await instance.alarm(info)
