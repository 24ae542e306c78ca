"""Security options given as text (the Worker's variables, the CLI's environment), parsed with
clear errors: ``/track`` limits as a JSON object and trusted upstreams as a comma list."""

from __future__ import annotations

import ipaddress
import json

from .track_guard import TrackLimits

__all__ = ["track_limits_from_text", "trusted_upstreams_from_text"]


def track_limits_from_text(text: str | None) -> TrackLimits:
    """``{"per_visitor_per_day": 100, "per_client_per_second": 20}``; defaults when unset."""
    if not text:
        return TrackLimits()
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"track limits: not JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise ValueError("track limits: must be a JSON object")
    return TrackLimits.from_mapping(values)


def trusted_upstreams_from_text(text: str | None) -> tuple[str, ...]:
    """``10.0.0.0/8, 192.0.2.7``: networks or addresses, checked."""
    networks = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ValueError(f"trusted upstreams: {network!r} is not an address or network") from exc
    return networks
