"""The layers of edgesplit and the imports between them, read from the source with ``ast``.

Used by ``test_layers.py`` (CPython and Pyodide) and runnable to print the real import graph
that docs/architecture.md shows:

    .venv/bin/python tests/core/import_layers.py

Only first-party imports count (``edgesplit``, ``durable_objects``, ``entry``). Every import is
counted wherever it sits: at the top, inside a function, under ``if TYPE_CHECKING``.
The Worker's staged copy ``src/durable_objects/`` (scripts/stage_worker.py) is never read: the
top-level ``durable_objects/`` is the source.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = SRC.parent

# Who may import whom. A layer may import itself and the layers listed; nothing else.
# Read bottom-up: core <- ports <- support <- {vendors, status, queue, guardrails, pipeline,
# state} <- shells {edge, proxy, integrations, nginx, demo} <- entry points.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "ports": frozenset({"core"}),
    "support": frozenset({"core", "ports"}),
    "vendors": frozenset({"core", "ports"}),
    "status": frozenset({"core", "ports"}),
    "queue": frozenset({"core", "ports", "vendors"}),
    "guardrails": frozenset({"core", "ports"}),
    "pipeline": frozenset({"core", "ports", "status"}),
    "state": frozenset({"core", "ports", "support", "status", "guardrails"}),
    "api": frozenset({"core", "support"}),
    "integrations": frozenset({"core", "ports", "support", "api"}),
    "edge": frozenset({"core", "ports", "support", "vendors", "status", "queue", "guardrails", "pipeline"}),
    "proxy": frozenset(
        {"core", "ports", "support", "api", "vendors", "status", "queue", "guardrails", "pipeline", "state"}
    ),
    "nginx": frozenset(
        {"core", "ports", "support", "api", "vendors", "status", "pipeline", "state", "proxy"}
    ),
    "demo": frozenset({"core", "ports", "support", "api", "proxy"}),
    "entry": frozenset(
        {
            "core",
            "ports",
            "support",
            "api",
            "vendors",
            "status",
            "queue",
            "guardrails",
            "pipeline",
            "state",
            "integrations",
            "edge",
            "proxy",
            "nginx",
            "demo",
        }
    ),
}

# Single-module helpers at the package's top level: each is placed by hand, so a new one is a
# decision, not an accident.
SUPPORT_MODULES = frozenset(
    {
        "edgesplit.atomic_files",
        "edgesplit.ed25519",
        "edgesplit.schema",
        "edgesplit.snapshot_guard",
        "edgesplit.sqlite_sql",
        "edgesplit.system",
    }
)
FIRST_PARTY = ("edgesplit", "durable_objects", "entry")

# The layers the Worker runs import the standard library and nothing else (cold start, no
# wheels at the edge); the edge shell adds the runtime's own modules. Other layers: unrestricted.
EDGE_PATH_THIRD_PARTY: dict[str, frozenset[str]] = {
    **{
        layer: frozenset()
        for layer in ("core", "ports", "vendors", "status", "queue", "guardrails", "pipeline")
    },
    "edge": frozenset({"js", "pyodide", "workers"}),
}


class UnplacedModule(LookupError):
    """A module no rule puts in a layer."""


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("entry", "durable_objects") or parts[-1] == "cli" or parts[-1].endswith("_cli"):
        return "entry"
    if module == "edgesplit":
        return "api"
    if module in SUPPORT_MODULES:
        return "support"
    if len(parts) >= 2 and parts[1] in ALLOWED and parts[1] not in ("support", "api", "entry"):
        return parts[1]
    raise UnplacedModule(
        f"{module} is in no layer: put it in a layer package or add it to SUPPORT_MODULES "
        "(tests/core/import_layers.py)"
    )


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # dotted module name
    path: Path
    line: int
    target: str  # dotted module name, resolved


def source_files() -> dict[str, Path]:
    """Every first-party module: src/edgesplit/**, src/entry.py, the top-level durable_objects/."""
    found: dict[str, Path] = {}
    for path in sorted((SRC / "edgesplit").rglob("*.py")):
        found[_module_name(path, SRC)] = path
    found["entry"] = SRC / "entry.py"
    for path in sorted((ROOT / "durable_objects").rglob("*.py")):
        found[_module_name(path, ROOT)] = path
    return found


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, path: Path, known: set[str]) -> list[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # "from pkg import sub" imports the submodule pkg.sub when there is one.
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                for alias in node.names
            ]
        else:
            continue
        for target in dict.fromkeys(targets):
            if target.split(".")[0] in FIRST_PARTY:
                found.append(Import(module, path, node.lineno, target))
    return found


def all_imports() -> list[Import]:
    files = source_files()
    known = set(files)
    return [found for module, path in files.items() for found in imports_of(module, path, known)]


def violations(imports: list[Import]) -> list[str]:
    problems = []
    for found in imports:
        source, target = layer_of(found.importer), layer_of(found.target)
        if source != target and target not in ALLOWED[source]:
            where = found.path.relative_to(ROOT) if found.path.is_relative_to(ROOT) else found.path
            allowed = ", ".join(sorted(ALLOWED[source])) or "nothing but itself"
            problems.append(
                f"{where}:{found.line}: {found.importer} imports {found.target}: "
                f"layer '{source}' may import only {allowed}; '{target}' is not below it"
            )
    return problems


def third_party_on_the_edge_path() -> list[str]:
    """Non-standard-library imports in the layers the Worker runs, beyond what they may use."""
    problems = []
    for module, path in source_files().items():
        layer = layer_of(module)
        if layer not in EDGE_PATH_THIRD_PARTY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names}:
                standard = top in sys.stdlib_module_names or top == "__future__" or top in FIRST_PARTY
                if not standard and top not in EDGE_PATH_THIRD_PARTY[layer]:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: layer '{layer}' imports {top}")
    return problems


def layer_cycles() -> list[str]:
    """The table itself must be a one-way order: no layer reachable from itself."""
    cycles = []
    for start in ALLOWED:
        seen, todo = set(), list(ALLOWED[start])
        while todo:
            layer = todo.pop()
            if layer == start:
                cycles.append(start)
                break
            if layer not in seen:
                seen.add(layer)
                todo.extend(ALLOWED[layer])
    return cycles


def graph(imports: list[Import]) -> dict[str, dict[str, int]]:
    """Layer -> imported layer -> number of importing modules (self-imports left out)."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for found in imports:
        source, target = layer_of(found.importer), layer_of(found.target)
        if source != target:
            edges[source][target].add(found.importer)
    return {source: {t: len(m) for t, m in sorted(targets.items())} for source, targets in edges.items()}


def render(imports: list[Import]) -> str:
    edges = graph(imports)
    lines = []
    for layer in ALLOWED:
        targets = edges.get(layer, {})
        shown = ", ".join(f"{target} ({count})" for target, count in targets.items()) or "-"
        lines.append(f"{layer:<13}-> {shown}")
    return "\n".join(lines)


if __name__ == "__main__":
    found = all_imports()
    print(render(found))
    problems = violations(found)
    print("\n".join(problems) or "no upward imports", file=sys.stderr)
    sys.exit(1 if problems else 0)
