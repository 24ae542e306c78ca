"""How the harness calls into Python: entrypoints, Durable Object RPC, alarms."""

import importlib
import os
import random
import secrets
import time
import uuid

from workers import Request, python_from_rpc, python_to_rpc


def import_entry_with_entropy_forbidden(name="entry"):
    """Import the main module (and so every edge module) with randomness and the clock raising,
    as workerd's snapshot does at deploy time."""

    def forbidden(*args, **kwargs):
        raise RuntimeError("entropy or clock used at import time")

    saved = [
        (random, "random"),
        (random, "getrandbits"),
        (os, "urandom"),
        (secrets, "token_bytes"),
        (secrets, "token_urlsafe"),
        (time, "time"),
        (time, "monotonic"),
        (uuid, "uuid4"),
    ]
    originals = [(module, attr, getattr(module, attr)) for module, attr in saved]
    for module, attr, _ in originals:
        setattr(module, attr, forbidden)
    try:
        return importlib.import_module(name)
    finally:
        for module, attr, original in originals:
            setattr(module, attr, original)


async def call_fetch(cls, js_request, env, ctx):
    instance = cls(ctx, env)
    response = await instance.fetch(Request(js_request))
    return getattr(response, "js_object", response)


async def call_scheduled(cls, env, ctx):
    instance = cls(ctx, env)
    await instance.scheduled(None, env, ctx)


def make_object(cls, state, env):
    return cls(state, env)


async def invoke(instance, name, js_args):
    args = [python_from_rpc(arg) for arg in js_args]
    result = await getattr(instance, name)(*args)
    return python_to_rpc(result)


async def run_alarm(instance, retry_count):
    info = {"retryCount": retry_count, "isRetry": retry_count > 0}
    await instance.alarm(info)
