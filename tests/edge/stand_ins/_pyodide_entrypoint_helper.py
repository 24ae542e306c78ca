from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from js import _miniworkerd as _harness

cloudflareWorkersModule = _harness.workersModule
cloudflareSocketsModule = None
python_workflows_implicit_dependencies = False
python_request_headers_preserve_commas = False


def doAnImport(name: str) -> Any:
    return _harness.doAnImport(name)


@contextmanager
def patch_env_helper(kwds: Any) -> Iterator[None]:
    yield


def patchWaitUntil(ctx: Any) -> None:
    # As workerd does: ctx.waitUntil also takes Python coroutines.
    _harness.patchWaitUntil(ctx)
