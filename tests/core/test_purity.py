"""The core stays pure: standard library only, and nothing that reads a clock, randomness,
files, the network, or a runtime-specific module. Checked from the source, on every runtime."""

from __future__ import annotations

import ast
import pathlib
import sys

import edgesplit
import edgesplit.core

CORE = pathlib.Path(edgesplit.core.__file__).parent
FORBIDDEN = {
    "asyncio",
    "socket",
    "http",
    "urllib",
    "sqlite3",
    "ssl",
    "js",
    "pyodide",
    "workers",
    "aiohttp",
    "time",
    "random",
    "secrets",
    "uuid",
    "os",
    "threading",
    "subprocess",
    "io",
    "pathlib",
}


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_core_imports_only_the_pure_standard_library() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 10
    for path in files:
        imports = _imports(path)
        assert imports <= set(sys.stdlib_module_names) | {"__future__"}, (path.name, imports)
        assert not imports & FORBIDDEN, (path.name, imports & FORBIDDEN)


def test_public_api_lists_exactly_what_exists() -> None:
    for module in (edgesplit, edgesplit.core):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
    assert {"load_config", "assign", "ConfigError", "sign_token", "verify_token"} <= set(edgesplit.__all__)
