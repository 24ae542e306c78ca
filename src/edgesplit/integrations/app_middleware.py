"""For origins behind edgesplit: read the signed decision from the request, in any framework.

    keyring = edgesplit.load_keyring(open("keys.json").read())   # public keys suffice for EdDSA

    # Starlette / FastAPI (ASGI): request.state.edgesplit
    app.add_middleware(EdgesplitMiddleware, keyring=keyring)
    # Flask, Django or any WSGI app: request.environ / request.META["edgesplit.decision"]
    app.wsgi_app = EdgesplitWSGIMiddleware(app.wsgi_app, keyring)

    variant(decision, "hero")          # "bold", or "control" when absent, forged or expired

With ``require=True`` a request without a valid decision is refused (403) instead of being
served the control. A forged or expired header is never trusted either way.

Compact (``es2``) decisions name experiments by position in a manifest (docs/decision-tokens.md);
give every helper ``manifests=``: ``ManifestFetcher("https://shop.example/__edgesplit/manifest/")``
fetches each manifest once from edgesplit, or ``ManifestBook([Manifest.from_config(config)])``
when the origin has the config file. Without one, ``es2`` decisions read as ``unknown_manifest``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core import Keyring, Verification, verify_token
from ..core.manifest import ManifestLookup
from .manifest_fetcher import ManifestFetcher

__all__ = [
    "DecisionReader",
    "EdgesplitMiddleware",
    "EdgesplitWSGIMiddleware",
    "ManifestFetcher",
    "variant",
    "WSGI_KEY",
]

WSGI_KEY = "edgesplit.decision"
MISSING = Verification(False, "missing")


def variant(decision: Verification | None, experiment: str, default: str = "control") -> str:
    """The experiment's variant from a verified decision, else ``default`` (the control)."""
    if decision is None or not decision.ok or decision.claims is None:
        return default
    return decision.claims.assignments.get(experiment, default)


class DecisionReader:
    def __init__(
        self,
        keyring: Keyring,
        *,
        header: str = "x-edgesplit-decision",
        leeway: float = 60,
        clock: Callable[[], float] = time.time,
        manifests: ManifestLookup | None = None,
    ) -> None:
        self.keyring = keyring
        self.header = header.lower()
        self.leeway = leeway
        self.clock = clock
        self.manifests = manifests

    def read(self, value: str | None) -> Verification:
        if not value:
            return MISSING
        return verify_token(value, self.keyring, self.clock(), leeway=self.leeway, manifests=self.manifests)


def _refusal(decision: Verification) -> bytes:
    return json.dumps({"error": f"no valid edgesplit decision: {decision.reason}"}).encode()


class EdgesplitMiddleware:
    """ASGI middleware: ``scope["state"]["edgesplit"]`` (Starlette: ``request.state.edgesplit``)."""

    def __init__(
        self,
        app: Any,
        keyring: Keyring,
        *,
        header: str = "x-edgesplit-decision",
        require: bool = False,
        manifests: ManifestLookup | None = None,
    ) -> None:
        self.app = app
        self.reader = DecisionReader(keyring, header=header, manifests=manifests)
        self.header = header.lower().encode("latin-1")
        self.require = require

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((value for name, value in scope.get("headers", []) if name.lower() == self.header), None)
        decision = self.reader.read(raw.decode("latin-1") if raw is not None else None)
        scope.setdefault("state", {})["edgesplit"] = decision
        if self.require and not decision.ok:
            body = _refusal(decision)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


class EdgesplitWSGIMiddleware:
    """WSGI middleware: ``environ["edgesplit.decision"]`` (Flask ``request.environ``, Django
    ``request.META``)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        keyring: Keyring,
        *,
        header: str = "x-edgesplit-decision",
        require: bool = False,
        manifests: ManifestLookup | None = None,
    ) -> None:
        self.app = app
        self.reader = DecisionReader(keyring, header=header, manifests=manifests)
        self.environ_key = "HTTP_" + header.upper().replace("-", "_")
        self.require = require

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        decision = self.reader.read(environ.get(self.environ_key))
        environ[WSGI_KEY] = decision
        if self.require and not decision.ok:
            body = _refusal(decision)
            start_response(
                "403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return self.app(environ, start_response)
