"""The no-flicker bootstrap: an inline ``<script>`` at the top of ``<head>`` carrying the
visitor's assignments (as the signed decision says them) and the client script, so the page's
own code knows its variants before first paint, without a request and without hiding the page.

It honours the response's Content-Security-Policy: when a policy restricts scripts, the
script carries the policy's nonce if the origin gave one, and otherwise its SHA-256 hash is
added to the directive that governs inline scripts (``script-src-elem``, ``script-src`` or
``default-src``). A policy that allows ``'unsafe-inline'`` (and no nonce or hash, which would
switch it off) needs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re

from ..core import DecisionClaims
from ..ports.http import Headers
from .client_script import CLIENT_SCRIPT

__all__ = ["bootstrap_tag", "bootstrap_source", "allow_inline_script", "CSP_HEADERS"]

CSP_HEADERS = ("content-security-policy", "content-security-policy-report-only")
_SCRIPT_DIRECTIVES = ("script-src-elem", "script-src", "default-src")
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]{1,256})'")
_JS_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def bootstrap_source(claims: DecisionClaims) -> str:
    """The script's text: ``window.edgesplitBootstrap`` then the client script."""
    data = {
        "assignments": dict(sorted(claims.assignments.items())),
        "held_out": sorted(claims.held_out),
        "config_version": claims.config_version,
    }
    encoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    safe = "".join(_JS_UNSAFE.get(char, char) for char in encoded)  # never ends the <script>
    # "</" and "<!--" would end or confuse the inline element; in JS source "<\\/" means "</".
    client = CLIENT_SCRIPT.replace("</", "<\\/").replace("<!--", "<\\!--")
    return f"window.edgesplitBootstrap={safe};\n{client}"


def _directives(policy: str) -> list[tuple[str, str]]:
    parts = []
    for part in policy.split(";"):
        words = part.split(None, 1)  # CSP separates with any ASCII whitespace
        if words:
            parts.append((words[0].lower(), words[1].strip() if len(words) > 1 else ""))
    return parts


def _governing(directives: list[tuple[str, str]]) -> int | None:
    for wanted in _SCRIPT_DIRECTIVES:
        for index, (name, _) in enumerate(directives):
            if name == wanted:
                return index
    return None


def _allows_plain_inline(sources: str) -> bool:
    lowered = sources.lower()
    return "'unsafe-inline'" in lowered and not any(
        marker in lowered for marker in ("'nonce-", "'sha256-", "'sha384-", "'sha512-", "'strict-dynamic'")
    )


def allow_inline_script(headers: Headers, source: str) -> str | None:
    """Make the response's policies allow ``source`` inline; return the nonce to put on the
    ``<script>`` (or None). Policies are edited in place: a hash is added where needed."""
    nonce: str | None = None
    for name in CSP_HEADERS:
        for policy in headers.get_all(name):
            found = _NONCE.search(policy)
            if found is not None:
                nonce = found.group(1)
                break
        if nonce is not None:
            break
    digest = base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")
    for name in CSP_HEADERS:
        policies = headers.get_all(name)
        if not policies:
            continue
        edited = [_with_hash(policy, nonce, f"'sha256-{digest}'") for policy in policies]
        headers.remove(name)
        for policy in edited:
            headers.add(name, policy)
    return nonce


def _with_hash(policy: str, nonce: str | None, hash_source: str) -> str:
    directives = _directives(policy)
    index = _governing(directives)
    if index is None:
        return policy  # scripts are not restricted by this policy
    name, sources = directives[index]
    if (nonce is not None and f"'nonce-{nonce}'" in sources) or _allows_plain_inline(sources):
        return policy
    if "'none'" in sources.lower().split():
        sources = ""
    directives[index] = (name, f"{sources} {hash_source}".strip())
    return "; ".join(f"{n} {v}".strip() for n, v in directives)


def bootstrap_tag(source: str, nonce: str | None, admin_prefix: str, cookie: str, pin_cookie: str) -> str:
    """The ``<script>`` element (attributes escaped; the client reads its data-* settings)."""
    attributes = [
        ("data-edgesplit-bootstrap", ""),
        ("data-track", f"{admin_prefix}/track"),
        ("data-manifests", f"{admin_prefix}/manifest/"),
        ("data-verify", f"{admin_prefix}/verify.mjs"),
        ("data-cookie", cookie),
        ("data-pin-cookie", pin_cookie),
    ]
    if nonce is not None:
        attributes.insert(0, ("nonce", nonce))
    rendered = "".join(
        f' {name}="{html.escape(value, quote=True)}"' if value else f" {name}" for name, value in attributes
    )
    return f"<script{rendered}>{source}</script>"
