"""The version lives in one place, ``__version__`` in src/edgesplit/__init__.py: the build reads it
from there (hatch's dynamic version), npm's files carry none of their own, and the installed
package reports the same."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

import edgesplit

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "src" / "edgesplit" / "__init__.py"
# hatch's own default pattern for [tool.hatch.version] path = ... (hatchling/version/source/regex.py)
HATCH_PATTERN = re.compile(r"""^(__version__|VERSION) *= *(['"])v?(?P<version>.+?)\2""", re.MULTILINE)


def test_the_build_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "a second copy of the version in pyproject.toml"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == INIT.relative_to(ROOT).as_posix()


def test_the_package_states_it_once_in_a_form_hatch_reads() -> None:
    found = HATCH_PATTERN.findall(INIT.read_text(encoding="utf-8"))
    assert len(found) == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.dev\d+)?", edgesplit.__version__)


def test_npm_files_carry_no_version_of_their_own() -> None:
    package = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    assert package["private"] is True  # never published to npm: no version to keep in step
    assert "version" not in package
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert "version" not in lock
    assert "version" not in lock["packages"][""]


def test_the_installed_package_reports_the_same_version() -> None:
    assert metadata.version("edgesplit") == edgesplit.__version__
