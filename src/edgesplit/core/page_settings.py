"""The config's ``pages`` section: how experiments that the origin does not know about behave.

"pages": {"rewrite_hosts": ["lp.example.net"], "bootstrap": true, "max_html_bytes": 2097152}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import Reader, child_path
from .variant_actions import is_host

__all__ = ["PageSettings", "parse_page_settings"]

MAX_HTML_BYTES_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PageSettings:
    rewrite_hosts: tuple[str, ...] = ()
    """Hosts (``name`` or ``name:port``, lower-case) a variant may rewrite to."""
    bootstrap: bool = False
    """Inject the no-flicker bootstrap script into the ``<head>`` of decided HTML pages."""
    max_html_bytes: int = 2 * 1024 * 1024
    """Self-hosted: HTML pages larger than this are passed on unchanged (bounded buffering)."""


def parse_page_settings(reader: Reader, value: Any, path: str) -> PageSettings:
    defaults = PageSettings()
    obj = reader.expect_object(value, path, optional=("rewrite_hosts", "bootstrap", "max_html_bytes"))
    if obj is None:
        return defaults
    hosts: list[str] = []
    items = reader.expect_list(obj.get("rewrite_hosts", []), child_path(path, "rewrite_hosts"), max_items=64)
    for i, item in enumerate(items or []):
        here = child_path(child_path(path, "rewrite_hosts"), i)
        host = reader.expect_str(item, here, max_length=260)
        if host is not None and not is_host(host):
            reader.fail(here, "must be a lower-case host name, optionally with ':port'")
        elif host is not None:
            hosts.append(host)
    bootstrap = reader.expect_bool(obj.get("bootstrap", defaults.bootstrap), child_path(path, "bootstrap"))
    max_bytes = reader.expect_number(
        obj.get("max_html_bytes", defaults.max_html_bytes),
        child_path(path, "max_html_bytes"),
        minimum=1024,
        maximum=MAX_HTML_BYTES_LIMIT,
        integer=True,
    )
    return PageSettings(
        tuple(hosts),
        defaults.bootstrap if bootstrap is None else bootstrap,
        defaults.max_html_bytes if max_bytes is None else int(max_bytes),
    )
