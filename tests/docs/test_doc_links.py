"""Every relative link in the README, the CHANGELOG, CONTRIBUTING and docs/*.md resolves: the file
exists and, for `page.md#anchor`, the page has a heading with that GitHub anchor. And every docs page
is reachable from the README, so the front door leads everywhere."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Collection
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Pages that other branches of this round write; linked already, checked once they exist. When one
# lands, remove it here (the test says so), so this list cannot silently hide a broken link.
PENDING_PAGES: frozenset[str] = frozenset()

LINK = re.compile(r"(?<!\!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def markdown_files(root: Path) -> list[Path]:
    names = [root / "README.md", root / "CHANGELOG.md", root / "CONTRIBUTING.md"]
    return [path for path in names if path.exists()] + sorted((root / "docs").glob("*.md"))


def prose_lines(text: str, keep_code_spans: bool = False) -> list[tuple[int, str]]:
    """(line number, text) outside fenced code blocks and HTML comments; inline code removed
    unless ``keep_code_spans`` (headings keep theirs: GitHub makes anchors from their text)."""
    text = HTML_COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line if keep_code_spans else INLINE_CODE.sub("", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading keeps its text
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8"), keep_code_spans=True):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def broken_links(root: Path, pending: Collection[str] = ()) -> list[str]:
    problems = []
    for page in markdown_files(root):
        raw_text = page.read_text(encoding="utf-8")
        for number, line in prose_lines(raw_text):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                    continue
                path_part, _, anchor = target.partition("#")
                resolved = (page.parent / path_part).resolve() if path_part else page
                where = f"{page.relative_to(root)}:{number}: {target}"
                try:
                    relative = resolved.relative_to(root).as_posix()
                except ValueError:
                    problems.append(f"{where}: points outside the repository")
                    continue
                if not resolved.exists():
                    if relative not in pending:
                        problems.append(f"{where}: no such file")
                    continue
                if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                    problems.append(f"{where}: no heading with anchor #{anchor} in {relative}")
    return problems


def test_every_relative_link_resolves() -> None:
    assert broken_links(ROOT, PENDING_PAGES) == []


def test_pending_pages_are_still_pending() -> None:
    landed = sorted(page for page in PENDING_PAGES if (ROOT / page).exists())
    assert landed == [], f"{landed} exist now: remove them from PENDING_PAGES so their links are checked"


def test_the_readme_links_every_docs_page() -> None:
    linked = set()
    for _, line in prose_lines((ROOT / "README.md").read_text(encoding="utf-8")):
        linked.update(target.partition("#")[0] for target in LINK.findall(line))
    pages = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    assert sorted(pages - linked) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Throughput: SQLite vs Redis, side by side", "throughput-sqlite-vs-redis-side-by-side"),
        ("The self-hosted server's limits", "the-self-hosted-servers-limits"),
        ("`edgesplit serve`", "edgesplit-serve"),
        ("Coverage, measured (seeded, deterministic)", "coverage-measured-seeded-deterministic"),
        ("The manifest: where the names are", "the-manifest-where-the-names-are"),
        (
            "Events: exposures, conversions and the durable queue",
            "events-exposures-conversions-and-the-durable-queue",
        ),
    ],
)
def test_anchors_are_the_ones_github_makes(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checker_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Same\n\n## Same\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [ok](docs/a.md#same-1) [web](https://example.com/x)\n"
        "`[in code](docs/nope.md)`\n```\n[fenced](docs/nope.md)\n```\n<!-- [slot](docs/later.md) -->\n"
        "[gone](docs/gone.md) [bad anchor](docs/a.md#nope) [self](#a)\n"
        "[pending](docs/soon.md)\n",
        encoding="utf-8",
    )
    problems = broken_links(tmp_path, {"docs/soon.md"})
    assert problems == [
        "README.md:7: docs/gone.md: no such file",
        "README.md:7: docs/a.md#nope: no heading with anchor #nope in docs/a.md",
        "README.md:7: #a: no heading with anchor #a in README.md",
    ]
