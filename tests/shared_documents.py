"""The documents the tests share (configs, the keyring), pure Python with no aiohttp: the
end-to-end suites and the pipeline's unit tests (which also run inside Pyodide) use the same."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from edgesplit.core import HmacKey, Keyring, assign, parse_config

KEYRING = Keyring((HmacKey("test-key", bytes(range(32))),))
KEYRING_JSON = '{"keys": [{"id": "test-key", "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}'
DECISION_HEADER = "x-edgesplit-decision"
CONFIG = {
    "schema_version": 1,
    "version": "e2e-1",
    "identity": {"secure": False},
    "experiments": [
        {
            "key": "hero",
            "variants": [{"key": "control"}, {"key": "bold"}],
            "targeting": {
                "paths": ["/page/**", "/nocache/**", "/cookie-page", "/private", "/stream", "/echo", "/big"]
            },
        },
        {
            "key": "shop",
            "hash": "growthbook-v2",
            "variants": [
                {"key": "a", "weight": 0.34},
                {"key": "b", "weight": 0.33},
                {"key": "c", "weight": 0.33},
            ],
            "targeting": {"paths": ["/page/shop*"]},
        },
        {"key": "elsewhere", "variants": [{"key": "x"}, {"key": "y"}], "targeting": {"paths": ["/other"]}},
    ],
}


def page_config(external_host: str, **pages: Any) -> dict[str, Any]:
    """Experiments the origin does not know about: split URL, redirect, cross-origin rewrite,
    HTML changes (shared origin page), and an origin-rendered experiment to compare with."""
    everyone_b = [{"key": "control", "weight": 0}]
    hero_changes = [
        {"selector": "h1.hero", "action": "set_text", "text": "Variant hero"},
        {"selector": "button.cta", "action": "add_class", "class": "cta-b"},
        {"selector": "#promo", "action": "remove"},
    ]
    return {
        "schema_version": 1,
        "version": "pages-1",
        "experiments": [
            {
                "key": "split",
                "variants": [*everyone_b, {"key": "b", "rewrite": {"path": "/pricing-b"}}],
                "targeting": {"paths": ["/pricing"]},
            },
            {
                "key": "split-noquery",
                "variants": [
                    *everyone_b,
                    {"key": "b", "rewrite": {"path": "/pricing-c", "keep_query": False}},
                ],
                "targeting": {"paths": ["/pricing-nq"]},
            },
            {
                "key": "move",
                "variants": [*everyone_b, {"key": "b", "redirect": {"url": "/pricing-new", "status": 302}}],
                "targeting": {"paths": ["/pricing-old", "/pricing-new"]},
            },
            {
                "key": "far",
                "variants": [
                    *everyone_b,
                    {"key": "b", "rewrite": {"url": f"http://{external_host}/external"}},
                ],
                "targeting": {"paths": ["/far"]},
            },
            {
                "key": "hero",
                "variants": [{"key": "control"}, {"key": "b", "changes": hero_changes}],
                "targeting": {"paths": ["/landing*", "/gzip", "/brotli", "/data.json", "/big", "/latin1"]},
            },
            {
                "key": "rendered",
                "variants": [{"key": "control"}, {"key": "b"}],
                "targeting": {"paths": ["/rendered"]},
            },
        ],
        "pages": {"rewrite_hosts": [external_host], **pages},
        "cache": {"enabled": True},
    }


def visitor_in(config: dict[str, Any], experiment: str, variant: str, path: str = "/landing") -> str:
    """A visitor id the config puts into ``variant`` of ``experiment`` on ``path``."""
    compiled = parse_config(config)
    for n in range(10_000):
        visitor = f"visitor-{n:08d}"
        if assign(compiled, visitor, {"path": path})[experiment].variant == variant:
            return visitor
    raise AssertionError(f"no visitor lands in {experiment}={variant}")


SERVER_KEY = "server-key-" + "s" * 32
WEB_KEY = "web-key-" + "w" * 32
LIMITED_KEY = "limited-key-" + secrets.token_hex(16)
"""Fresh per test process: rate-limit buckets live as long as the process (or isolate)."""
ALLOWED_ORIGIN = "https://app.example.com"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ofrep_config(version: str = "ofrep-1") -> dict[str, Any]:
    return {
        **CONFIG,
        "version": version,
        "ofrep": {
            "enabled": True,
            "clients": [
                {"kind": "server", "key_sha256": digest(SERVER_KEY), "requests_per_minute": 100_000},
                {"kind": "web", "key_sha256": digest(WEB_KEY), "requests_per_minute": 100_000},
                {"kind": "mobile", "key_sha256": digest(LIMITED_KEY), "requests_per_minute": 1},
            ],
            "cors_origins": [ALLOWED_ORIGIN],
        },
    }
