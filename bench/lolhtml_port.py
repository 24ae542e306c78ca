"""HTML changes through python-lolhtml (lol-html's own Python binding): the Worker's element
handler (``edge/page_rewriter.py``) ported to that binding, for the bench and for a fidelity
check against the shared table. Not a project dependency (an alpha: docs/html-experiments.md).

    .venv/bin/python bench/lolhtml_port.py DIR

(``DIR`` made by ``pip install --target DIR python-lolhtml``) prints how many of the cases in
tests/cases/html_changes.json it rewrites to the expected page (normalised as the tests do).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from edgesplit.core.variant_actions import Change, with_class, without_class  # noqa: E402


def _remove_class(element: Any, change: Change) -> None:
    current = element.get_attribute("class")
    if current is not None:
        element.set_attribute("class", without_class(current, change.text))


def _replace(element: Any, change: Change, html: object) -> None:
    element.before(change.text, html)  # the binding has no replace(): the same, in two steps
    element.remove()


def _insert(where: str, html: object) -> Callable[[Any, Change], None]:
    return lambda element, change: getattr(element, where)(change.text, html)


def handlers(lolhtml: ModuleType) -> dict[str, Callable[[Any, Change], None]]:
    """What each action does to a matched element (as the Worker's handler does it)."""
    html, text = lolhtml.ContentType.HTML, lolhtml.ContentType.TEXT
    return {
        "set_text": lambda el, c: el.set_inner_content(c.text, text),
        "set_attribute": lambda el, c: el.set_attribute(c.name, c.text),
        "remove_attribute": lambda el, c: el.remove_attribute(c.name),
        "add_class": lambda el, c: el.set_attribute("class", with_class(el.get_attribute("class"), c.text)),
        "remove_class": _remove_class,
        "remove": lambda el, c: el.remove(),
        "replace": lambda el, c: _replace(el, c, html),
        **{name: _insert(name, html) for name in ("before", "after", "prepend", "append")},
    }


def rewrite(lolhtml: ModuleType, page: bytes, changes: Sequence[Change], head_html: str | None) -> bytes:
    actions = handlers(lolhtml)

    def on(change: Change) -> object:
        act = actions[change.action]

        def element(el: Any) -> None:
            if not el.removed:  # removed or replaced by an earlier change: nothing more to do
                act(el, change)

        return type("Handler", (), {"element": staticmethod(element)})()

    out = bytearray()
    rewriter = lolhtml.HTMLRewriter(out.extend)
    for change in changes:
        rewriter.on(change.selector, on(change))
    if head_html is not None:
        rewriter.on("head", on(Change("head", "prepend", head_html)))
    rewriter.write(page)
    rewriter.end()
    return bytes(out)


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    sys.path.insert(0, str(ROOT / "tests"))
    import lolhtml

    from html_table import CASES, changes_of, normalise

    failed = [
        case["name"]
        for case in CASES
        if normalise(rewrite(lolhtml, case["document"].encode(), changes_of(case), None).decode())
        != normalise(case["expected"])
    ]
    print(f"{len(CASES) - len(failed)} of {len(CASES)} cases give the expected page; failed: {failed}")


if __name__ == "__main__":
    main()
