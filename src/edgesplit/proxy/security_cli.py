"""``edgesplit serve`` options for the security limits (docs/security.md), kept out of cli.py."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..pipeline.admin_guard import admin_token_problem
from ..pipeline.options import track_limits_from_text, trusted_upstreams_from_text
from .limits import ServerLimits

__all__ = ["add_security_arguments", "security_options"]

TRACK_LIMITS_ENV = "EDGESPLIT_TRACK_LIMITS"
TRUSTED_ENV = "EDGESPLIT_TRUSTED_UPSTREAMS"


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    d = ServerLimits()
    parser.add_argument(
        "--trusted-upstream",
        action="append",
        default=[],
        metavar="ADDR_OR_NET",
        help=f"a load balancer whose X-Forwarded-* headers are believed (repeatable; also ${TRUSTED_ENV})",
    )
    parser.add_argument(
        "--track-limits",
        metavar="JSON",
        help=f"/track caps, e.g. '{{\"per_visitor_per_day\": 100}}' (also ${TRACK_LIMITS_ENV})",
    )
    parser.add_argument(
        "--header-timeout", type=float, default=d.header_timeout, help="seconds (default %(default)s)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=d.idle_timeout, help="seconds (default %(default)s)"
    )
    parser.add_argument(
        "--body-timeout", type=float, default=d.body_timeout, help="seconds (default %(default)s)"
    )
    parser.add_argument(
        "--max-connections", type=int, default=d.max_connections, help="(default %(default)s)"
    )


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``ProxyOptions``; a bad value exits with the reason."""
    problem = admin_token_problem(os.environ.get("EDGESPLIT_ADMIN_TOKEN") or None)
    if problem is not None:
        raise SystemExit(f"$EDGESPLIT_ADMIN_TOKEN: {problem}")
    try:
        trusted = trusted_upstreams_from_text(
            ",".join([*args.trusted_upstream, os.environ.get(TRUSTED_ENV, "")])
        )
        limits = track_limits_from_text(args.track_limits or os.environ.get(TRACK_LIMITS_ENV))
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    timeouts = (args.header_timeout, args.idle_timeout, args.body_timeout)
    if min(timeouts) <= 0 or args.max_connections < 1:
        raise SystemExit("--header-timeout, --idle-timeout, --body-timeout and --max-connections must be > 0")
    return {
        "trusted_upstreams": trusted,
        "track_limits": limits,
        "server_limits": ServerLimits(*timeouts, args.max_connections),
    }
