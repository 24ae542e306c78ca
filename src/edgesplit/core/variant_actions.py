"""What a variant does at the edge, besides telling the origin: a split-URL rewrite or redirect,
and HTML changes. Parsed and validated here (pure), acted on by the pipeline and the shells.

    {"key": "b", "rewrite": {"path": "/pricing-b"}}
    {"key": "b", "rewrite": {"url": "https://lp.example.net/pricing", "keep_query": false}}
    {"key": "b", "redirect": {"url": "/pricing-b", "status": 302}}
    {"key": "b", "changes": [{"selector": "h1.hero", "action": "set_text", "text": "Save 20%"}]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .selectors import SelectorError, check_selector
from .validation import Reader, child_path

__all__ = [
    "ACTIONS",
    "Change",
    "Redirect",
    "Rewrite",
    "VariantActions",
    "check_rewrite_hosts",
    "parse_variant_actions",
    "with_class",
    "without_class",
    "VARIANT_ACTION_FIELDS",
]

VARIANT_ACTION_FIELDS = ("rewrite", "redirect", "changes")
MAX_CHANGES = 100
MAX_FRAGMENT = 64 * 1024
MAX_TEXT = 16 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_FIELDS_BY_ACTION: Mapping[str, tuple[str, ...]] = {
    "set_text": ("text",),
    "set_attribute": ("name", "value"),
    "remove_attribute": ("name",),
    "add_class": ("class",),
    "remove_class": ("class",),
    "replace": ("html",),
    "before": ("html",),
    "after": ("html",),
    "prepend": ("html",),
    "append": ("html",),
    "remove": (),
}
ACTIONS = tuple(_FIELDS_BY_ACTION)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.-]{0,63}")
_CLASS_NAME = re.compile(r"[^\s\x00-\x1f\"'<>&]{1,128}")
_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,1023}")
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?")
_ABSOLUTE_URL = re.compile(r"https?://(?P<host>[^/?#@\s]+)(?:[/?][^#\s]*)?")
_UNSAFE_ATTRIBUTE = re.compile(r"on[a-z]+|srcdoc|formaction", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Change:
    selector: str
    action: str
    text: str = ""
    """``text`` for set_text, the fragment for replace/before/after/prepend/append, the value
    for set_attribute, the class for add_class/remove_class."""
    name: str = ""
    """The attribute name for set_attribute/remove_attribute."""

    def to_json(self) -> dict[str, str]:
        """The wire form (for the Worker's rewriter and for tests)."""
        return {"selector": self.selector, "action": self.action, "text": self.text, "name": self.name}


@dataclass(frozen=True, slots=True)
class Rewrite:
    path: str | None
    """A path on the origin (same site); or None when ``url`` names another host."""
    url: str | None
    """An absolute http(s) URL on a host listed in ``pages.rewrite_hosts``."""
    keep_query: bool = True


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    """A path on this site or an absolute http(s) URL."""
    status: int = 302
    keep_query: bool = True

    @property
    def target_path(self) -> str | None:
        """The path this redirect lands on when it stays on this site (for loop checks)."""
        return self.url if self.url.startswith("/") else None


@dataclass(frozen=True, slots=True)
class VariantActions:
    rewrite: Rewrite | None = None
    redirect: Redirect | None = None
    changes: tuple[Change, ...] = ()

    @property
    def changes_origin_request(self) -> bool:
        return self.rewrite is not None or self.redirect is not None


_FIELD_RULES: Mapping[str, tuple[int, re.Pattern[str] | None, str]] = {
    "text": (MAX_TEXT, None, ""),
    "value": (MAX_TEXT, None, ""),
    "html": (MAX_FRAGMENT, None, ""),
    "name": (64, _ATTRIBUTE_NAME, "an attribute name (letters, digits, '_', ':', '.', '-')"),
    "class": (128, _CLASS_NAME, "one class name (no whitespace, quotes, '<', '>' or '&')"),
}


def _field(reader: Reader, obj: Mapping[str, Any], path: str, field: str) -> str | None:
    max_length, pattern, pattern_help = _FIELD_RULES[field]
    return reader.expect_str(
        obj[field],
        child_path(path, field),
        min_length=0 if pattern is None else 1,
        max_length=max_length,
        pattern=pattern,
        pattern_help=pattern_help,
    )


def _change(reader: Reader, value: Any, path: str) -> Change | None:
    obj = reader.expect_object(
        value, path, required=("selector", "action"), optional=("text", "name", "value", "class", "html")
    )
    if obj is None or "selector" not in obj or "action" not in obj:
        return None
    action = reader.expect_choice(obj["action"], child_path(path, "action"), ACTIONS)
    selector = reader.expect_str(obj["selector"], child_path(path, "selector"), max_length=512)
    if selector is not None:
        try:
            selector = check_selector(selector)
        except SelectorError as exc:
            reader.fail(child_path(path, "selector"), f"not in the supported selector subset: {exc}")
            selector = None
    if action is None:
        return None
    wanted = _FIELDS_BY_ACTION[action]
    ok = selector is not None
    for field in ("text", "name", "value", "class", "html"):
        if field in obj and field not in wanted:
            reader.fail(child_path(path, field), f"is not used by action {action!r}")
            ok = False
        elif field in wanted and field not in obj:
            reader.fail(child_path(path, field), f"is required by action {action!r}")
            ok = False
    values = {field: _field(reader, obj, path, field) for field in wanted} if ok else {}
    if not ok or any(value is None for value in values.values()):
        return None
    assert selector is not None
    name = values.get("name") or ""
    if _UNSAFE_ATTRIBUTE.fullmatch(name):
        # Event handlers and srcdoc would run script the page's CSP may not expect from us;
        # script belongs in an html fragment, where it is visible as such.
        reader.fail(child_path(path, "name"), f"{name!r} cannot be set by a change (script-bearing)")
        return None
    payload = next((values[f] for f in ("text", "value", "class", "html") if f in values), "")
    return Change(selector, action, payload or "", name.lower())


def _keep_query(reader: Reader, obj: Mapping[str, Any], path: str) -> bool | None:
    return reader.expect_bool(obj.get("keep_query", True), child_path(path, "keep_query"))


def url_host(url: str) -> str:
    """The lower-cased ``host[:port]`` of an absolute URL that ``_absolute_url`` accepted."""
    match = _ABSOLUTE_URL.match(url)
    return match.group("host").lower() if match else ""


def _absolute_url(reader: Reader, value: str, path: str) -> str | None:
    if any(char.isspace() or ord(char) < 32 for char in value):
        reader.fail(path, "must not contain spaces or control characters")
        return None
    match = _ABSOLUTE_URL.fullmatch(value)
    if match is None or not _HOST.fullmatch(match.group("host").lower()):
        reader.fail(
            path, "must be a path starting with '/' or an http(s) URL without credentials or fragment"
        )
        return None
    return value


def _site_path(reader: Reader, value: str, path: str) -> str | None:
    if value.startswith("//"):
        reader.fail(path, "must not start with '//' (that names a host)")
        return None
    if not _PATH.fullmatch(value):
        reader.fail(path, "must be a path starting with '/' (no query, fragment or spaces)")
        return None
    return value


def _rewrite(reader: Reader, value: Any, path: str) -> Rewrite | None:
    obj = reader.expect_object(value, path, optional=("path", "url", "keep_query"))
    if obj is None:
        return None
    if ("path" in obj) == ("url" in obj):
        reader.fail(path, "needs exactly one of 'path' (on the origin) or 'url' (on a listed host)")
        return None
    keep_query = _keep_query(reader, obj, path)
    if "path" in obj:
        target = reader.expect_str(obj["path"], child_path(path, "path"), max_length=1024)
        target = _site_path(reader, target, child_path(path, "path")) if target is not None else None
        return None if target is None or keep_query is None else Rewrite(target, None, keep_query)
    url = reader.expect_str(obj["url"], child_path(path, "url"), max_length=2048)
    url = _absolute_url(reader, url, child_path(path, "url")) if url is not None else None
    return None if url is None or keep_query is None else Rewrite(None, url, keep_query)


def _redirect(reader: Reader, value: Any, path: str) -> Redirect | None:
    obj = reader.expect_object(value, path, required=("url",), optional=("status", "keep_query"))
    if obj is None or "url" not in obj:
        return None
    url = reader.expect_str(obj["url"], child_path(path, "url"), max_length=2048)
    if url is not None and url.startswith("/"):
        url = _site_path(reader, url, child_path(path, "url"))
    elif url is not None:
        url = _absolute_url(reader, url, child_path(path, "url"))
    status = reader.expect_number(obj.get("status", 302), child_path(path, "status"), integer=True)
    if status is not None and status not in REDIRECT_STATUSES:
        reader.fail(child_path(path, "status"), f"must be one of {', '.join(map(str, REDIRECT_STATUSES))}")
        status = None
    keep_query = _keep_query(reader, obj, path)
    if url is None or status is None or keep_query is None:
        return None
    return Redirect(url, int(status), keep_query)


def parse_variant_actions(reader: Reader, obj: Mapping[str, Any], path: str) -> VariantActions | None:
    """The edge actions of one variant object (``None`` when it has none or on a problem)."""
    if not any(field in obj for field in VARIANT_ACTION_FIELDS):
        return None
    before = len(reader.problems)
    rewrite = _rewrite(reader, obj["rewrite"], child_path(path, "rewrite")) if "rewrite" in obj else None
    redirect = _redirect(reader, obj["redirect"], child_path(path, "redirect")) if "redirect" in obj else None
    if "rewrite" in obj and "redirect" in obj:
        reader.fail(path, "a variant may rewrite or redirect, not both")
    changes: list[Change] = []
    if "changes" in obj:
        items = reader.expect_list(obj["changes"], child_path(path, "changes"), max_items=MAX_CHANGES)
        for i, item in enumerate(items or []):
            change = _change(reader, item, child_path(child_path(path, "changes"), i))
            if change is not None:
                changes.append(change)
    if len(reader.problems) > before:
        return None
    return VariantActions(rewrite, redirect, tuple(changes))


def check_rewrite_hosts(
    reader: Reader, experiments: Sequence[Any], indexes: Sequence[int], allowed: Sequence[str]
) -> None:
    """Cross-origin rewrites only to hosts the config lists (``pages.rewrite_hosts``)."""
    hosts = {host.lower() for host in allowed}
    for index, experiment in zip(indexes, experiments, strict=True):
        for v, variant in enumerate(experiment.variants):
            actions = variant.actions
            if actions is None or actions.rewrite is None or actions.rewrite.url is None:
                continue
            host = url_host(actions.rewrite.url)
            if host not in hosts:
                reader.fail(
                    f"experiments[{index}].variants[{v}].rewrite.url",
                    f"host {host!r} is not listed in pages.rewrite_hosts (cross-origin rewrites "
                    "fetch another site's page under this one's address)",
                )


def with_class(value: str | None, css_class: str) -> str:
    """The class attribute after ``add_class`` (both shells call this, so they agree)."""
    tokens = (value or "").split()
    if css_class not in tokens:
        tokens.append(css_class)
    return " ".join(tokens)


def without_class(value: str, css_class: str) -> str:
    """The class attribute after ``remove_class`` (only called when the attribute exists)."""
    return " ".join(token for token in value.split() if token != css_class)


def is_host(value: str) -> bool:
    return bool(_HOST.fullmatch(value))
