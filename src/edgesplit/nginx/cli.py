"""The ``edgesplit decide`` and ``edgesplit nginx-config`` subcommands (wired into ``edgesplit.cli``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..core import defaults

__all__ = ["add_nginx_commands"]


def cmd_decide(args: argparse.Namespace) -> int:
    from .. import load_config
    from ..cli import _keyring, _run, _setup_logging
    from ..proxy.service import ProxyOptions, serve_forever
    from .service import DecisionService, NginxOptions

    _setup_logging(args.log_level)
    config = load_config(args.config)
    vendors: list[dict[str, Any]] = []
    if args.vendors:
        with open(args.vendors, encoding="utf-8") as handle:
            vendors = json.load(handle)
    options = ProxyOptions(
        origin="",
        host=args.host,
        port=args.port,
        config_path=args.config,
        vendor_url=args.vendor_url,
        vendors=vendors,
        queue_dir=args.queue_dir,
        queue_shards=args.queue_shards,
        admin_token=os.environ.get("EDGESPLIT_ADMIN_TOKEN") or None,
        access_log=args.access_log,
    )
    nginx = NginxOptions(
        epoch_file=args.epoch_file,
        nginx_pid_file=args.nginx_pid,
        decision_cache_seconds=args.decision_cache_seconds,
        outcomes_port=args.outcomes_port,
        unix_socket=os.path.abspath(args.unix_socket) if args.unix_socket else None,
    )
    _run(serve_forever(DecisionService(options, nginx, config, _keyring(args.keys))))
    return 0


def cmd_nginx_config(args: argparse.Namespace) -> int:
    from .. import load_config
    from .config_render import NginxConfigError, NginxConfigOptions, render_nginx_config

    options = NginxConfigOptions(
        origin=args.origin,
        decide=args.decide,
        listen=args.listen,
        server_name=args.server_name,
        state_dir=os.path.abspath(args.state_dir),
        epoch_file=os.path.abspath(args.epoch_file) if args.epoch_file else None,
        decision_cache=not args.no_decision_cache,
        fail_open=not args.fail_closed,
        decide_timeout_ms=args.decide_timeout_ms,
        page_cache_size=args.page_cache_size,
        outcomes_port=args.outcomes_port,
        user=args.user,
        workers=args.workers,
        access_log=args.access_log,
    )
    try:
        text = render_nginx_config(load_config(args.config), options)
    except NginxConfigError as exc:
        print(f"edgesplit nginx-config: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def add_nginx_commands(sub: Any) -> None:
    decide = sub.add_parser(
        "decide",
        help="run the decision service nginx asks with auth_request (docs/nginx.md)",
        description="Answer nginx's auth_request subrequests with the variant vector, the signed decision "
        "header and the cookies to set; emit exposures through the durable queue; count outcomes from "
        "nginx's syslog outcome log (UDP, same port number unless --outcomes-port); serve the admin "
        "endpoints. The config file is watched as by 'edgesplit serve'.",
        epilog="Pair it with 'edgesplit nginx-config'. Signing keys: --keys or $EDGESPLIT_KEYS.",
    )
    decide.add_argument("--config", required=True, help="path to the JSON configuration (watched)")
    decide.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    decide.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    decide.add_argument(
        "--unix-socket",
        help="listen on this Unix socket instead of --host/--port (nginx-config --decide unix:PATH); "
        "cheaper than TCP on one machine. The outcome log then comes on PATH.outcomes",
    )
    decide.add_argument("--keys", help="keyring JSON file (default: $EDGESPLIT_KEYS)")
    decide.add_argument("--vendor-url", help="a generic webhook vendor (named 'default') for event batches")
    decide.add_argument("--vendors", help="JSON file listing vendors (as for 'edgesplit serve')")
    decide.add_argument("--queue-dir", default=defaults.QUEUE_DIR, help="durable queue and counts folder")
    decide.add_argument(
        "--queue-shards",
        type=int,
        default=defaults.LOCAL_QUEUE_SHARDS,
        help=f"queue shards (default {defaults.LOCAL_QUEUE_SHARDS})",
    )
    decide.add_argument(
        "--epoch-file",
        help="write nginx's decision cache epoch here (the file nginx-config's output includes); "
        "without it, nginx never reuses a decision",
    )
    decide.add_argument("--nginx-pid", help="nginx's pid file: SIGHUP it when the epoch changes")
    decide.add_argument(
        "--decision-cache-seconds",
        type=int,
        default=30,
        help="at most this long nginx reuses a returning visitor's decision (default 30; 0: never)",
    )
    decide.add_argument(
        "--outcomes-port", type=int, help="UDP port for nginx's outcome log (default: --port)"
    )
    decide.add_argument("--access-log", action="store_true", help="log every subrequest")
    decide.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    decide.set_defaults(run=cmd_decide)

    render = sub.add_parser(
        "nginx-config",
        help="print an nginx.conf that puts nginx in front of an origin with edgesplit deciding",
        description="Print a complete nginx configuration: per-variant page cache, decision cache, "
        "client decision headers stripped, forwarded headers set by nginx, private Cache-Control on "
        "variant pages, Set-Cookie responses never shared, fail-open. Every directive: docs/nginx.md.",
    )
    render.add_argument("--config", required=True, help="the edgesplit JSON configuration")
    render.add_argument("--origin", required=True, help="origin base URL, e.g. http://127.0.0.1:3000")
    render.add_argument("--decide", default="127.0.0.1:8081", help="edgesplit decide's host:port")
    render.add_argument("--listen", default="8080", help="nginx listen parameters (default 8080)")
    render.add_argument("--server-name", default="_", help="server_name (default _ : any host)")
    render.add_argument("--state-dir", default="/var/cache/edgesplit-nginx", help="caches, temp files, pid")
    render.add_argument("--epoch-file", help="decide's --epoch-file (default STATE_DIR/edgesplit-epoch.conf)")
    render.add_argument("--no-decision-cache", action="store_true", help="ask the service on every request")
    render.add_argument(
        "--fail-closed", action="store_true", help="answer 503 when the service is down (default: serve open)"
    )
    render.add_argument("--decide-timeout-ms", type=int, default=1000, help="then serve open (default 1000)")
    render.add_argument("--page-cache-size", default="1g", help="page cache max_size (default 1g)")
    render.add_argument("--outcomes-port", type=int, help="decide's outcome UDP port (default: its port)")
    render.add_argument("--user", help="the 'user' directive (workers' user, when nginx starts as root)")
    render.add_argument("--workers", default="auto", help="worker_processes (default auto)")
    render.add_argument("--access-log", action="store_true", help="write STATE_DIR/access.log")
    render.set_defaults(run=cmd_nginx_config)
