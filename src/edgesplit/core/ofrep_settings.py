"""The config's ``ofrep`` section: who may ask for decisions over OFREP, from where, how often.

    "ofrep": {
      "enabled": true,
      "clients": [
        {"kind": "server", "key_sha256": "<64 hex: SHA-256 of the API key>", "requests_per_minute": 6000},
        {"kind": "web", "key_sha256": "<...>", "requests_per_minute": 600}
      ],
      "cors_origins": ["https://app.example.com"]
    }

Off by default, and off while no client is listed. Keys are stored as SHA-256 digests only: the
config document (KV, a file) never holds a usable key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .validation import Reader, child_path

__all__ = ["CLIENT_KINDS", "OfrepClient", "OfrepSettings", "parse_ofrep"]

CLIENT_KINDS = ("server", "web", "mobile")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?")
MAX_CLIENTS = 64
DEFAULT_REQUESTS_PER_MINUTE = 600


@dataclass(frozen=True, slots=True)
class OfrepClient:
    kind: str
    key_sha256: str
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class OfrepSettings:
    enabled: bool = False
    clients: tuple[OfrepClient, ...] = ()
    cors_origins: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.clients)


def _client(reader: Reader, value: Any, path: str) -> OfrepClient | None:
    obj = reader.expect_object(
        value, path, required=("kind", "key_sha256"), optional=("requests_per_minute",)
    )
    if obj is None or not {"kind", "key_sha256"} <= obj.keys():
        return None
    kind = reader.expect_choice(obj["kind"], child_path(path, "kind"), CLIENT_KINDS)
    digest = reader.expect_str(
        obj["key_sha256"],
        child_path(path, "key_sha256"),
        max_length=64,
        pattern=_DIGEST,
        pattern_help="64 lowercase hex digits: the SHA-256 of the API key (printf %s KEY | sha256sum)",
    )
    rate = reader.expect_number(
        obj.get("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE),
        child_path(path, "requests_per_minute"),
        minimum=1,
        maximum=1_000_000,
        integer=True,
    )
    if kind is None or digest is None or rate is None:
        return None
    return OfrepClient(kind, digest, int(rate))


def parse_ofrep(reader: Reader, value: Any, path: str) -> OfrepSettings:
    obj = reader.expect_object(value, path, optional=("enabled", "clients", "cors_origins")) or {}
    enabled = reader.expect_bool(obj.get("enabled", False), child_path(path, "enabled"))
    clients: list[OfrepClient] = []
    clients_path = child_path(path, "clients")
    seen: dict[str, int] = {}
    for i, item in enumerate(
        reader.expect_list(obj.get("clients", []), clients_path, max_items=MAX_CLIENTS) or []
    ):
        client = _client(reader, item, child_path(clients_path, i))
        if client is None:
            continue
        if client.key_sha256 in seen:
            reader.fail(
                child_path(child_path(clients_path, i), "key_sha256"),
                f"duplicates clients[{seen[client.key_sha256]}]",
            )
            continue
        seen[client.key_sha256] = i
        clients.append(client)
    origins_path = child_path(path, "cors_origins")
    origins = []
    for i, item in enumerate(
        reader.expect_list(obj.get("cors_origins", []), origins_path, max_items=256) or []
    ):
        origin = reader.expect_str(
            item,
            child_path(origins_path, i),
            max_length=270,
            pattern=_ORIGIN,
            pattern_help="an origin such as https://app.example.com (scheme, host, optional port; no path)",
        )
        if origin is not None:
            origins.append(origin)
    return OfrepSettings(bool(enabled), tuple(clients), tuple(origins))
