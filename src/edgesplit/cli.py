"""The ``edgesplit`` command line: validate and try configurations, debug tokens, run the proxy.

Each subcommand lives in a small function; heavy imports (the proxy's HTTP stack) happen only
inside the subcommands that need them, so ``edgesplit validate`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import ConfigError, KeyringError, load_config, load_keyring
from .core import DecisionClaims, Manifest, ManifestBook, assign, defaults, sign_token, verify_token
from .core.b64 import b64url_encode
from .nginx.cli import add_nginx_commands

__all__ = ["main"]

KEYS_ENV = "EDGESPLIT_KEYS"
NESTED_ATTRIBUTES = ("query", "cookie", "header")


def parse_attributes(pairs: Sequence[str]) -> dict[str, Any]:
    """``["country=US", "visits:=3", "query.ref=news"]`` -> attributes for ``assign``."""
    attributes: dict[str, Any] = {}
    for pair in pairs:
        if ":=" in pair and pair.index(":=") + 1 == pair.index("="):
            name, raw = pair.split(":=", 1)
            try:
                value: Any = json.loads(raw)
            except ValueError:
                raise SystemExit(f"--attr {pair}: the value after ':=' must be JSON") from None
        elif "=" in pair:
            name, value = pair.split("=", 1)
        else:
            raise SystemExit(f"--attr {pair}: expected name=value or name:=json")
        prefix, dot, rest = name.partition(".")
        if dot and prefix in NESTED_ATTRIBUTES:
            attributes.setdefault(prefix, {})[rest] = value
        else:
            attributes[name] = value
    return attributes


def _keyring(path: str | None) -> Any:
    if path:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    elif os.environ.get(KEYS_ENV):
        text = os.environ[KEYS_ENV]
    else:
        raise SystemExit(
            f"no signing keys: pass --keys FILE or set {KEYS_ENV} ('edgesplit keys generate' makes a keyring)"
        )
    return load_keyring(text)


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{args.config}: {exc}", file=sys.stderr)
        return 1
    running = sum(1 for e in config.experiments if e.running)
    print(
        f"{args.config}: valid (version {config.version!r}, "
        f"{len(config.experiments)} experiments, {running} running)"
    )
    return 0


def _assignments(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    config = load_config(args.config)
    attributes = parse_attributes(args.attr or [])
    return config, assign(config, args.id, attributes)


def cmd_assign(args: argparse.Namespace) -> int:
    _config, result = _assignments(args)
    out = {
        key: {
            "variant": a.variant,
            "index": a.index,
            "in_experiment": a.in_experiment,
            "reason": a.reason,
        }
        for key, a in result.items()
    }
    print(json.dumps(out, indent=2))
    return 0


def cmd_token_sign(args: argparse.Namespace) -> int:
    config, result = _assignments(args)
    manifest = Manifest.from_config(config) if args.format == "es2" else None
    claims = DecisionClaims.from_assignments(args.id, result, config.version, time.time(), args.ttl, manifest)
    print(sign_token(claims, _keyring(args.keys)))
    return 0


def cmd_token_verify(args: argparse.Namespace) -> int:
    now = args.now if args.now is not None else time.time()
    manifests = ManifestBook(Manifest.from_config(load_config(path)) for path in args.config or [])
    result = verify_token(args.token.strip(), _keyring(args.keys), now, manifests=manifests)
    if not result.ok or result.claims is None:
        print(json.dumps({"ok": False, "reason": result.reason, "key_id": result.key_id}))
        return 1
    print(json.dumps({"ok": True, "key_id": result.key_id, "claims": result.claims.to_json()}, indent=2))
    return 0


def cmd_keys_generate(args: argparse.Namespace) -> int:
    key_id = args.id or time.strftime("%Y-%m-%d", time.gmtime())
    if args.alg == "EdDSA":
        from .ed25519 import ed25519_key

        seed = secrets.token_bytes(32)
        public = ed25519_key(key_id, seed, None, None).public_key_bytes
        key = {
            "id": key_id,
            "alg": "EdDSA",
            "private_key": b64url_encode(seed),
            "public_key": b64url_encode(public),
        }
    else:
        key = {"id": key_id, "alg": "HS256", "secret": b64url_encode(secrets.token_bytes(32))}
    print(json.dumps({"keys": [key]}, indent=2))
    return 0


def cmd_keys_public(args: argparse.Namespace) -> int:
    """The keyring's public keys, as the browser client's ``data-keys`` and the JS verifier take them."""
    from .core import browser_keys

    public = browser_keys(_keyring(args.keys))
    if not public:
        raise SystemExit("this keyring has no Ed25519 keys: HMAC secrets cannot be given to browsers")
    print(json.dumps(public, indent=2))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def _setup_logging(level: str) -> None:
    import logging

    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _run(main: Any) -> None:
    """asyncio.run on uvloop when it is installed (the proxy extra brings it on Linux/macOS)."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def cmd_config_push(args: argparse.Namespace) -> int:
    import asyncio

    from .state import StateUnavailable
    from .state.push import push_config_file

    url = args.state or os.environ.get("EDGESPLIT_STATE_URL")
    if not url:
        raise SystemExit("edgesplit config push: pass --state redis://... or set EDGESPLIT_STATE_URL")
    try:
        version = asyncio.run(push_config_file(url, args.file))
    except (StateUnavailable, ValueError) as exc:
        print(f"edgesplit: {exc}", file=sys.stderr)
        return 1
    print(f"published {args.file} as version {version}; every proxy applies it within its poll interval")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:

    from .proxy.security_cli import security_options
    from .proxy.service import ProxyOptions, ProxyService, serve_forever

    _setup_logging(args.log_level)
    import logging

    from .core import parse_config
    from .queue.store import Bounds

    def load_serve_config() -> tuple[Any, bool]:
        try:
            return load_config(args.config), False
        except ConfigError as exc:
            if args.strict_config:
                raise
            # Fail open: pass every request through untouched until the file is fixed (it is watched).
            logging.getLogger("edgesplit.serve").error(
                "config %s unusable, serving without experiments until it is fixed:\n%s", args.config, exc
            )
            return parse_config({"schema_version": 1, "version": "unavailable", "experiments": []}), True

    config, config_failed = load_serve_config()  # also refuses a bad file before any worker starts
    keyring = _keyring(args.keys)
    vendors = []
    if args.vendors:
        with open(args.vendors, encoding="utf-8") as handle:
            vendors = json.load(handle)
    options = ProxyOptions(
        origin=args.origin,
        host=args.host,
        port=args.port,
        config_path=args.config,
        vendor_url=args.vendor_url,
        vendors=vendors,
        queue_dir=args.queue_dir,
        queue_shards=args.queue_shards,
        queue_bounds=Bounds(
            args.queue_max_events, args.queue_max_bytes, args.queue_max_age, args.drop_policy
        ),
        admin_token=os.environ.get("EDGESPLIT_ADMIN_TOKEN") or None,
        origin_timeout=args.origin_timeout,
        connect_timeout=args.connect_timeout,
        preserve_host=args.preserve_host,
        access_log=args.access_log,
        state_url=args.state or os.environ.get("EDGESPLIT_STATE_URL") or None,
        guardrail_interval=args.guardrail_interval,
        **security_options(args),
    )
    if args.workers > 1:
        from .proxy.worker import serve_workers

        return serve_workers(options, args.workers, (config, config_failed), load_serve_config, keyring, _run)
    service = ProxyService(options, config, keyring)
    if config_failed:
        service.metrics.inc("edgesplit_internal_errors_total", stage="config")
    _run(serve_forever(service))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:

    from .demo.run import run_demo

    _setup_logging(args.log_level)
    keyring = _keyring(args.keys) if args.keys else None
    _run(run_demo(keyring, args.host, args.port, args.origin_port, args.vendor_port))
    return 0


def _local_queue_stores(directory: str) -> list[Any]:
    from pathlib import Path

    from .queue.store import QueueStore
    from .sqlite_sql import SqliteSql

    paths = sorted(Path(directory).glob("shard-*.sqlite3"))
    if not paths:
        raise SystemExit(f"no queue shards in {directory!r} (see edgesplit serve --queue-dir)")
    return [(path.stem, QueueStore(SqliteSql(path))) for path in paths]


def cmd_queue_status(args: argparse.Namespace) -> int:
    now = time.time()
    report = {name: store.stats(now) for name, store in _local_queue_stores(args.queue_dir)}
    print(json.dumps(report, indent=2))
    return 0


def cmd_queue_dead(args: argparse.Namespace) -> int:
    letters = [
        {"shard": name, **letter}
        for name, store in _local_queue_stores(args.queue_dir)
        for letter in store.dead_letters(args.vendor, args.limit)
    ]
    print(json.dumps(letters, indent=2))
    return 0


def cmd_queue_replay(args: argparse.Namespace) -> int:
    moved = sum(store.replay(args.vendor, time.time()) for _, store in _local_queue_stores(args.queue_dir))
    print(f"{moved} dead letters queued again; a running proxy delivers them on the shard's next alarm")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """The status page's numbers as JSON (the same document as ``/__edgesplit/status.json``)."""
    from pathlib import Path

    from .guardrails.counts import CountsStore
    from .sqlite_sql import SqliteSql
    from .status import StatusData, build_report, merge_queue_stats, read_counts

    config = load_config(args.config)
    now = time.time()
    if args.state:  # several proxies sharing state: the cluster's numbers
        from .state.cluster_status import cluster_report

        print(json.dumps(cluster_report(args.state, config, now), indent=2))
        return 0
    counts_path = Path(args.state_dir) / "counts.sqlite3"
    keys = [experiment.key for experiment in config.experiments]
    data = (
        read_counts(CountsStore(SqliteSql(counts_path)), keys, now) if counts_path.exists() else StatusData()
    )
    if any(Path(args.state_dir).glob("shard-*.sqlite3")):
        data.queue = merge_queue_stats(store.stats(now) for _, store in _local_queue_stores(args.state_dir))
    print(json.dumps(build_report(config, data, now), indent=2))
    return 0


def cmd_experiment_resume(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .atomic_files import write_config_atomically
    from .core import parse_config
    from .guardrails.counts import CountsStore
    from .sqlite_sql import SqliteSql

    with open(args.config, encoding="utf-8") as handle:
        document = json.load(handle)
    matches = [item for item in document.get("experiments", []) if item.get("key") == args.key]
    if not matches:
        raise SystemExit(f"no experiment {args.key!r} in {args.config}")
    item = matches[0]
    if item.get("status") != "paused":
        raise SystemExit(f"experiment {args.key!r} is {item.get('status', 'running')!r}, not paused")
    pause = item.pop("pause", None)
    item["status"] = "running"
    parse_config(document)  # never write a config the proxy would refuse
    write_config_atomically(args.config, document)
    counts_path = Path(args.state_dir) / "counts.sqlite3"
    if counts_path.exists():
        counts = CountsStore(SqliteSql(counts_path))
        counts.forget(args.key)  # its sequential tests start afresh
        counts.record(args.key, time.time(), "resumed", {"by": "edgesplit experiment resume"})
    reason = f" (was paused: {pause['reason']})" if pause else ""
    print(f"resumed {args.key!r}{reason}; a running proxy picks the change up within a second")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgesplit",
        description="A/B-testing middleware for the edge: deterministic, signed, "
        "cache-safe variant decisions.",
        epilog="Start with 'edgesplit demo', then 'edgesplit validate your-config.json'.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = sub.add_parser("validate", help="check a configuration; exit 1 listing every problem")
    validate.add_argument("config", help="path to the JSON configuration")
    validate.set_defaults(run=cmd_validate)

    def visitor_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="path to the JSON configuration")
        p.add_argument("--id", required=True, help="visitor id (the value of the visitor cookie)")
        p.add_argument(
            "--attr",
            action="append",
            metavar="NAME=VALUE",
            help="request attribute, repeatable: country=US, path=/shop, query.ref=news, "
            "visits:=3 (JSON value)",
        )

    assign_cmd = sub.add_parser("assign", help="print a visitor's assignments as JSON")
    visitor_options(assign_cmd)
    assign_cmd.set_defaults(run=cmd_assign)

    token = sub.add_parser("token", help="sign or verify the decision header an origin receives")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    sign = token_sub.add_parser("sign", help="assign a visitor and print the signed decision token")
    visitor_options(sign)
    sign.add_argument("--ttl", type=int, default=300, help="token lifetime in seconds (default 300)")
    sign.add_argument("--keys", help=f"keyring JSON file (default: ${KEYS_ENV})")
    sign.add_argument(
        "--format", choices=("es2", "es1"), default="es2", help="es2: compact (default); es1: names in JSON"
    )
    sign.set_defaults(run=cmd_token_sign)
    verify = token_sub.add_parser("verify", help="verify a token; exit 1 with the reason when rejected")
    verify.add_argument("token")
    verify.add_argument("--keys", help=f"keyring JSON file (default: ${KEYS_ENV})")
    verify.add_argument("--now", type=float, help="verify as of this epoch time (default: now)")
    verify.add_argument(
        "--config", action="append", help="config file naming an es2 token's experiments (repeatable)"
    )
    verify.set_defaults(run=cmd_token_verify)

    keys = sub.add_parser("keys", help="signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = keys_sub.add_parser("generate", help="print a new keyring with one random key")
    generate.add_argument("--id", help="key id (default: today's date)")
    generate.add_argument(
        "--alg",
        choices=("HS256", "EdDSA"),
        default="HS256",
        help="HS256 (default) or EdDSA: Ed25519, which browsers and third parties can verify",
    )
    generate.set_defaults(run=cmd_keys_generate)
    public = keys_sub.add_parser("public", help="print the Ed25519 public keys for browsers (data-keys)")
    public.add_argument("--keys", help=f"keyring JSON file (default: ${KEYS_ENV})")
    public.set_defaults(run=cmd_keys_public)

    serve = sub.add_parser(
        "serve",
        help="run the self-hosted reverse proxy in front of an origin",
        description="Run edgesplit as a reverse proxy: every request is decided, signed and forwarded to "
        "--origin; responses are cached per variant. The config file is watched: a valid change is picked "
        "up within a second, an invalid one is refused and the running config stays. SIGTERM or Ctrl-C "
        "stops accepting, finishes requests in flight and flushes events.",
        epilog="Signing keys come from --keys or $EDGESPLIT_KEYS ('edgesplit keys generate' makes them). "
        "Set $EDGESPLIT_ADMIN_TOKEN to require 'Authorization: Bearer <token>' on the metrics endpoint. "
        "Example: edgesplit serve --config experiments.json --origin http://127.0.0.1:3000 --port 8080",
    )
    serve.add_argument("--config", required=True, help="path to the JSON configuration (watched for changes)")
    serve.add_argument("--origin", required=True, help="origin base URL, e.g. http://127.0.0.1:3000")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--keys", help=f"keyring JSON file (default: ${KEYS_ENV})")
    serve.add_argument("--vendor-url", help="a generic webhook vendor (named 'default') for event batches")
    serve.add_argument(
        "--vendors",
        help='JSON file listing vendors: [{"name", "kind": webhook|posthog|segment, ...}] (docs/events.md)',
    )
    serve.add_argument(
        "--queue-dir",
        default=defaults.QUEUE_DIR,
        help=f"folder of the durable event queue's SQLite shards (default ./{defaults.QUEUE_DIR})",
    )
    serve.add_argument(
        "--queue-shards",
        type=int,
        default=defaults.LOCAL_QUEUE_SHARDS,
        help=f"queue shards (default {defaults.LOCAL_QUEUE_SHARDS})",
    )
    serve.add_argument(
        "--queue-max-events",
        type=int,
        default=defaults.QUEUE_MAX_EVENTS,
        help=f"per shard and vendor (default {defaults.QUEUE_MAX_EVENTS})",
    )
    serve.add_argument(
        "--queue-max-bytes",
        type=int,
        default=defaults.QUEUE_MAX_BYTES,
        help=f"per shard and vendor (default {defaults.QUEUE_MAX_BYTES >> 20} MiB)",
    )
    serve.add_argument(
        "--queue-max-age",
        type=float,
        default=defaults.QUEUE_MAX_AGE_SECONDS,
        help="seconds an event may wait before it is dropped, counted "
        f"(default {defaults.QUEUE_MAX_AGE_SECONDS / 86_400:g} days)",
    )
    serve.add_argument(
        "--drop-policy",
        choices=defaults.QUEUE_DROP_POLICIES,
        default=defaults.QUEUE_DROP,
        help="beyond the bounds: drop the oldest pending events, or refuse the newest (default oldest)",
    )
    serve.add_argument(
        "--origin-timeout",
        type=float,
        default=defaults.ORIGIN_TIMEOUT_SECONDS,
        help="seconds to wait for the origin's response and between body reads; then 504 "
        f"(default {defaults.ORIGIN_TIMEOUT_SECONDS:g})",
    )
    serve.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        help="seconds to connect to the origin; then 502 (default 5)",
    )
    serve.add_argument(
        "--preserve-host",
        action="store_true",
        help="send the client's Host header to the origin (default: the origin's own host)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    from .proxy.security_cli import add_security_arguments

    add_security_arguments(serve)
    serve.add_argument(
        "--state",
        help="shared state for several proxies: redis://host:6379/0 (default: $EDGESPLIT_STATE_URL, "
        "else this proxy's own SQLite files); see docs/scaling-out.md",
    )
    serve.add_argument(
        "--strict-config",
        action="store_true",
        help="refuse to start on a missing or invalid config (default: start without "
        "experiments, pass requests through, and pick the file up once it is valid)",
    )
    from .proxy.worker_count import default_workers, interval_seconds, worker_count

    serve.add_argument(
        "--workers",
        type=worker_count,
        default=default_workers(),
        help="proxy processes on the one port, under a supervisor (default: the number of cores, "
        f"{default_workers()} here; 1: a single process); see docs/workers.md",
    )
    serve.add_argument(
        "--guardrail-interval",
        type=interval_seconds,
        default=10.0,
        help="seconds between guardrail and bandit updates (default 10)",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    serve.set_defaults(run=cmd_serve)

    demo = sub.add_parser(
        "demo",
        help="run a demo origin, vendor and proxy on loopback",
        description="Start a demo origin that renders the variant it is told and verifies "
        "the signature, a vendor simulator that counts events, and the proxy in front, "
        "with the bundled sample config. Then open the printed URL.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080, help="proxy port (default 8080; 0 picks a free one)")
    demo.add_argument("--origin-port", type=int, default=8081)
    demo.add_argument("--vendor-port", type=int, default=8082)
    demo.add_argument("--keys", help="keyring JSON file (default: a fresh random key for this run)")
    demo.add_argument("--log-level", default="warning", choices=("debug", "info", "warning", "error"))
    demo.set_defaults(run=cmd_demo)

    queue = sub.add_parser("queue", help="inspect the self-hosted proxy's durable event queue")
    queue_sub = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    for name, run, text in (
        ("status", cmd_queue_status, "depth, oldest event, delivered/retried/dropped/dead"),
        ("dead", cmd_queue_dead, "list dead letters with the vendor's reason"),
        ("replay", cmd_queue_replay, "queue dead letters again (after fixing the cause)"),
    ):
        action = queue_sub.add_parser(name, help=text)
        action.add_argument("--queue-dir", default=defaults.QUEUE_DIR)
        if name != "status":
            action.add_argument("--vendor", help="only this vendor (default: all)")
        if name == "dead":
            action.add_argument("--limit", type=int, default=100)
        action.set_defaults(run=run)

    status = sub.add_parser(
        "status", help="per experiment: counts, SRM p-value, guardrail state, weights, pause"
    )
    status.add_argument("--config", required=True)
    status.add_argument(
        "--state-dir",
        default=defaults.QUEUE_DIR,
        help=f"the proxy's --queue-dir (default ./{defaults.QUEUE_DIR})",
    )
    status.add_argument("--state", help="the proxies' shared state, redis://... (instead of --state-dir)")
    status.set_defaults(run=cmd_status)

    experiment = sub.add_parser("experiment", help="change an experiment in a config file")
    experiment_sub = experiment.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")
    resume = experiment_sub.add_parser(
        "resume", help="resume an experiment a guardrail paused (a person decides)"
    )
    resume.add_argument("key")
    resume.add_argument("--config", required=True)
    resume.add_argument("--state-dir", default=defaults.QUEUE_DIR)
    resume.set_defaults(run=cmd_experiment_resume)

    config = sub.add_parser("config", help="the config document shared by several proxies (--state)")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    push = config_sub.add_parser("push", help="validate a config file and publish it to every proxy")
    push.add_argument("file")
    push.add_argument("--state", help="redis://host:6379/0 (default: $EDGESPLIT_STATE_URL)")
    push.set_defaults(run=cmd_config_push)

    schema = sub.add_parser("schema", help="print the configuration's JSON Schema")
    schema.set_defaults(run=cmd_schema)
    add_nginx_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        print(
            "edgesplit: the self-hosted proxy needs its extra: pip install 'edgesplit[proxy]'",
            file=sys.stderr,
        )
        return 1
    except (ConfigError, KeyringError) as exc:
        print(f"edgesplit: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"edgesplit: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
