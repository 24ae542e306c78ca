"""Layers the code enforces: every first-party import, resolved from the source, points down the
table in import_layers.py (docs/architecture.md). Runs on CPython and under Pyodide."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import import_layers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from import_layers import ALLOWED, Import, all_imports, imports_of, layer_cycles, layer_of, violations


def test_no_module_imports_from_a_layer_above_it() -> None:
    found = all_imports()
    assert len({i.importer for i in found}) >= 100  # the whole package was read, not a corner
    assert violations(found) == []


def test_the_edge_path_imports_only_the_standard_library() -> None:
    assert import_layers.third_party_on_the_edge_path() == []


def test_the_table_is_one_way() -> None:
    assert layer_cycles() == []
    assert all(allowed <= set(ALLOWED) for allowed in ALLOWED.values())


def test_every_module_is_in_a_layer() -> None:
    for module in import_layers.source_files():
        assert layer_of(module) in ALLOWED


def test_layers_are_read_from_the_module_path() -> None:
    assert layer_of("edgesplit.core.bucketing") == "core"
    assert layer_of("edgesplit.ports") == "ports"
    assert layer_of("edgesplit.pipeline.flow") == "pipeline"
    assert layer_of("edgesplit.proxy.service") == "proxy"
    assert layer_of("edgesplit.nginx.cli") == "entry"
    assert layer_of("edgesplit") == "api"
    assert layer_of("durable_objects.queue_shard") == "entry"
    with pytest.raises(import_layers.UnplacedModule, match="edgesplit.newthing is in no layer"):
        layer_of("edgesplit.newthing")


def _module(tmp_path: Path, relative: str, text: str) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


KNOWN = {"edgesplit.pipeline.metrics", "edgesplit.queue", "edgesplit.queue.store", "edgesplit.pipeline"}


def test_relative_and_absolute_upward_imports_are_both_caught(tmp_path: Path) -> None:
    path = _module(
        tmp_path,
        "edgesplit/queue/delivery.py",
        "from __future__ import annotations\n"
        "import json\n"
        "from ..pipeline.metrics import Metrics\n"
        "from .store import QueueStore\n"
        "def later() -> None:\n"
        "    import edgesplit.pipeline\n",
    )
    found = imports_of("edgesplit.queue.delivery", path, KNOWN)
    assert [(i.line, i.target) for i in found] == [
        (3, "edgesplit.pipeline.metrics"),
        (4, "edgesplit.queue.store"),
        (6, "edgesplit.pipeline"),
    ]
    problems = violations(found)
    assert len(problems) == 2
    assert problems[0].endswith(
        "delivery.py:3: edgesplit.queue.delivery imports edgesplit.pipeline.metrics: "
        "layer 'queue' may import only core, ports, vendors; 'pipeline' is not below it"
    )


def test_from_package_import_submodule_resolves_to_the_submodule(tmp_path: Path) -> None:
    path = _module(tmp_path, "edgesplit/guardrails/counts.py", "from .. import queue\n")
    found = imports_of("edgesplit.guardrails.counts", path, KNOWN)
    assert found == [Import("edgesplit.guardrails.counts", path, 1, "edgesplit.queue")]
    assert "layer 'guardrails' may import only core, ports; 'queue'" in violations(found)[0]


@pytest.fixture
def tree_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of src/ and durable_objects/ that the checker reads instead of the real tree."""
    copy = tmp_path / "src"
    shutil.copytree(import_layers.SRC / "edgesplit", copy / "edgesplit")
    shutil.copy(import_layers.SRC / "entry.py", copy / "entry.py")
    shutil.copytree(import_layers.ROOT / "durable_objects", tmp_path / "durable_objects")
    monkeypatch.setattr(import_layers, "SRC", copy)
    monkeypatch.setattr(import_layers, "ROOT", tmp_path)
    return copy


def test_an_upward_import_in_a_copy_of_the_tree_fails(tree_copy: Path) -> None:
    """The check reads the files on disk: an upward import added to a copy is named exactly."""
    core_file = tree_copy / "edgesplit" / "core" / "bucketing.py"
    core_file.write_text(core_file.read_text(encoding="utf-8") + "\nfrom ..pipeline import flow\n")
    problems = violations(all_imports())
    assert len(problems) == 1
    assert problems[0].startswith("src/edgesplit/core/bucketing.py:")
    assert "edgesplit.core.bucketing imports edgesplit.pipeline.flow" in problems[0]
    assert "layer 'core' may import only nothing but itself; 'pipeline' is not below it" in problems[0]


def test_the_staged_durable_objects_copy_is_never_read(tree_copy: Path) -> None:
    """scripts/stage_worker.py copies durable_objects/ into src/: the result must not change."""
    before = sorted(import_layers.source_files())
    found_before = violations(all_imports())
    shutil.copytree(import_layers.ROOT / "durable_objects", tree_copy / "durable_objects")
    (tree_copy / "durable_objects" / "stale_only_here.py").write_text("import edgesplit.proxy\n")
    assert sorted(import_layers.source_files()) == before
    assert violations(all_imports()) == found_before == []


_NAME = st.sampled_from(["core", "ports", "queue", "store", "flow", "x"])


@given(
    package=st.lists(_NAME, min_size=1, max_size=4),
    is_package=st.booleans(),
    level=st.integers(min_value=1, max_value=5),
    module=st.one_of(st.none(), st.lists(_NAME, min_size=1, max_size=2).map(".".join)),
)
def test_relative_imports_resolve_as_python_resolves_them(
    package: list[str], is_package: bool, level: int, module: str | None
) -> None:
    importer = ".".join(["edgesplit", *package])
    base = importer if is_package else importer.rpartition(".")[0]
    assume(level <= len(base.split(".")))  # deeper is a SyntaxError-like ImportError in Python
    relative = "." * level + (module or "")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("__init__.py" if is_package else "mod.py")
        path.write_text(f"from {relative} import name\n", encoding="utf-8")
        found = imports_of(importer, path, known=set())
    expected = importlib.util.resolve_name(relative, base)
    assert [i.target for i in found] == ([expected] if expected.startswith("edgesplit") else [])
