"""One source of every shared default (edgesplit/core/defaults.py): the command line, the self-hosted
proxy's options, the queue, the Worker's settings and wrangler.toml agree, and a default written
again as a literal where settings live is caught."""

from __future__ import annotations

import ast
import operator
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edgesplit.cli import build_parser
from edgesplit.core import defaults
from edgesplit.edge.settings import EdgeSettings
from edgesplit.proxy.service import ProxyOptions
from edgesplit.queue.drain import DrainPolicy
from edgesplit.queue.store import Bounds

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "edgesplit"
# Where settings and their defaults are written: each must take them from edgesplit.core.defaults.
SETTINGS_MODULES = [
    SRC / "cli.py",
    SRC / "nginx" / "cli.py",
    SRC / "proxy" / "service.py",
    SRC / "queue" / "store.py",
    SRC / "queue" / "drain.py",
    *sorted((SRC / "edge").glob("*.py")),
    *sorted((ROOT / "durable_objects").glob("*.py")),
]
DISTINCTIVE = {
    defaults.QUEUE_DIR: "QUEUE_DIR",
    defaults.QUEUE_MAX_EVENTS: "QUEUE_MAX_EVENTS",
    defaults.QUEUE_MAX_BYTES: "QUEUE_MAX_BYTES",
    defaults.QUEUE_MAX_AGE_SECONDS: "QUEUE_MAX_AGE_SECONDS",
}
_FOLD = {ast.Mult: operator.mul, ast.Add: operator.add, ast.Pow: operator.pow, ast.LShift: operator.lshift}


def _folded(node: ast.AST) -> Any:
    """A constant expression's value (``64 * 1024 * 1024``, ``7 * 86_400``), else None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD:
        left, right = _folded(node.left), _folded(node.right)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return _FOLD[type(node.op)](left, right)
    return None


def literal_defaults(source: str) -> list[tuple[int, str]]:
    """(line, name) for every shared default written out instead of imported."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Constant, ast.BinOp)):
            value = _folded(node)
            if value is not None and not isinstance(value, bool) and value in DISTINCTIVE:
                found.append((node.lineno, DISTINCTIVE[value]))
    return found


def test_the_scan_finds_a_default_written_again() -> None:
    source = 'x = "edgesplit-queue"\ny = 64 * 1024 * 1024\nz = 7 * 86_400\nparser.add_argument("--n", default=100_000)\n'
    assert [name for _, name in literal_defaults(source)] == [
        "QUEUE_DIR",
        "QUEUE_MAX_BYTES",
        "QUEUE_MAX_AGE_SECONDS",
        "QUEUE_MAX_EVENTS",
    ]
    assert literal_defaults("x = defaults.QUEUE_DIR\ny = 86_400\nz = 64 * 1024\n") == []


@pytest.mark.parametrize("path", SETTINGS_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_defaults_are_imported_not_written_again(path: Path) -> None:
    assert literal_defaults(path.read_text(encoding="utf-8")) == []


def _serve_args() -> Any:
    return build_parser().parse_args(["serve", "--config", "c.json", "--origin", "http://127.0.0.1:1"])


def test_the_command_line_the_proxy_and_the_queue_share_their_defaults() -> None:
    args = _serve_args()
    options = ProxyOptions(origin="http://127.0.0.1:1")
    bounds = Bounds()
    assert args.queue_dir == options.queue_dir == defaults.QUEUE_DIR
    assert args.queue_shards == options.queue_shards == defaults.LOCAL_QUEUE_SHARDS
    assert args.origin_timeout == options.origin_timeout == defaults.ORIGIN_TIMEOUT_SECONDS
    assert (args.queue_max_events, args.queue_max_bytes, args.queue_max_age, args.drop_policy) == (
        bounds.max_events,
        bounds.max_bytes,
        bounds.max_age_seconds,
        bounds.drop,
    )
    assert options.queue_bounds == bounds
    assert options.drain_timeout == defaults.DRAIN_TIMEOUT_SECONDS
    assert options.direct_timeout == defaults.DIRECT_SEND_TIMEOUT_SECONDS
    for command in (
        ["queue", "status"],
        ["status", "--config", "c.json"],
        ["experiment", "resume", "k", "--config", "c.json"],
        ["decide", "--config", "c.json"],
    ):
        parsed = build_parser().parse_args(command)
        assert getattr(parsed, "queue_dir", None) or parsed.state_dir == defaults.QUEUE_DIR, command


def test_the_edge_and_the_self_hosted_proxy_share_their_defaults() -> None:
    edge = EdgeSettings.from_values({})
    options = ProxyOptions(origin="http://127.0.0.1:1")
    assert edge.queue_bounds == options.queue_bounds == Bounds()
    assert edge.drain == DrainPolicy()
    assert edge.origin_timeout_seconds == options.origin_timeout
    assert edge.drain_timeout_seconds == options.drain_timeout
    assert edge.queue_shards == defaults.EDGE_QUEUE_SHARDS


def test_wrangler_toml_deploys_the_defaults() -> None:
    """The [vars] a new deployment starts from are the defaults, not a second opinion."""
    variables = tomllib.loads((ROOT / "wrangler.toml").read_text(encoding="utf-8"))["vars"]
    assert set(variables) <= {"EDGESPLIT_" + name for name in _edge_names()}
    assert EdgeSettings.from_values(variables) == EdgeSettings.from_values({})


def _edge_names() -> list[str]:
    from edgesplit.edge.settings import VARIABLES

    return [name.removeprefix("EDGESPLIT_") for name in VARIABLES]
