"""``edgesplit nginx-config``: a complete nginx.conf for an edgesplit config and an origin.

Every directive is explained in docs/nginx.md; the comments in the output say the why in one line.
What the output depends on in the edgesplit config: the decision header, the admin prefix, the
identity header, and every request header a targeting condition reads (all part of the decision
cache key, so that a cached decision is reused only for a request that would be decided alike).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..core import Config
from .outcomes import TAG, outcomes_address
from .protocol import CLIENT_IP, DECIDE_PATH, ORIGINAL_METHOD, ORIGINAL_SCHEME, ORIGINAL_URI

__all__ = ["NginxConfigOptions", "render_nginx_config", "targeting_headers", "NginxConfigError"]

# Headers the decision reads whatever the config says: bots (User-Agent, prefetch hints), device
# and country targeting.
DECISION_HEADERS = (
    "user-agent",
    "sec-purpose",
    "purpose",
    "x-purpose",
    "x-moz",
    "sec-ch-ua-mobile",
    "cf-ipcountry",
)
CACHEABLE_STATUSES = "200|203|204|300|301|308|404|405|410|414|501"
_HOST_PORT = re.compile(r"[A-Za-z0-9.\-]+:[0-9]{1,5}|\[[0-9A-Fa-f:]+\]:[0-9]{1,5}|unix:/[^\s;{}'\"]+")
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.:\-\[\]*/]+")
_PATH = re.compile(r"/[^\s;{}'\"$]*")


class NginxConfigError(ValueError):
    pass


@dataclass
class NginxConfigOptions:
    origin: str
    """The origin's base URL, e.g. ``http://127.0.0.1:3000``."""
    decide: str = "127.0.0.1:8081"
    """Where ``edgesplit decide`` listens (host:port or unix:/path)."""
    listen: str = "8080"
    server_name: str = "_"
    state_dir: str = "/var/cache/edgesplit-nginx"
    """Page and decision caches, temp files, pid file."""
    epoch_file: str | None = None
    """The file ``edgesplit decide --epoch-file`` writes (default: STATE_DIR/edgesplit-epoch.conf)."""
    decision_cache: bool = True
    fail_open: bool = True
    decide_timeout_ms: int = 1000
    page_cache_size: str = "1g"
    outcomes_port: int | None = None
    """UDP port of the service's outcome receiver (default: the decide port)."""
    user: str | None = None
    workers: str = "auto"
    access_log: bool = False


def targeting_headers(source: Any) -> set[str]:
    """Every ``header.<name>`` a condition in the config document mentions."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.startswith("header."):
                    found.add(key[len("header.") :].lower())
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str) and node.startswith("header."):
            found.add(node[len("header.") :].lower())

    walk(source)
    return {name for name in found if re.fullmatch(r"[a-z0-9\-]+", name)}


def _variable(header: str) -> str:
    return "$http_" + header.lower().replace("-", "_")


def _check(options: NginxConfigOptions) -> tuple[str, str]:
    origin = urlsplit(options.origin)
    if origin.scheme not in ("http", "https") or not origin.netloc or not _SAFE_WORD.fullmatch(origin.netloc):
        raise NginxConfigError(f"--origin {options.origin!r}: expected http(s)://host[:port]")
    if not _HOST_PORT.fullmatch(options.decide):
        raise NginxConfigError(f"--decide {options.decide!r}: expected host:port or unix:/path")
    for name, value in (("--listen", options.listen), ("--server-name", options.server_name)):
        if not all(_SAFE_WORD.fullmatch(word) for word in value.split()):
            raise NginxConfigError(f"{name} {value!r}: letters, digits and . : - _ * [ ] / only")
    for name, path in (("--state-dir", options.state_dir), ("--epoch-file", options.epoch_file or "/")):
        if not _PATH.fullmatch(path):
            raise NginxConfigError(f"{name} {path!r}: an absolute path without spaces, quotes, ; {{ }} or $")
    if options.user is not None and not _SAFE_WORD.fullmatch(options.user):
        raise NginxConfigError(f"--user {options.user!r}: not a user name")
    if not 1 <= options.decide_timeout_ms <= 60_000:
        raise NginxConfigError("--decide-timeout-ms: between 1 and 60000")
    if not re.fullmatch(r"[0-9]+[kmg]?", options.page_cache_size):
        raise NginxConfigError(f"--page-cache-size {options.page_cache_size!r}: e.g. 512m or 1g")
    if options.workers != "auto" and not options.workers.isdigit():
        raise NginxConfigError(f"--workers {options.workers!r}: a number or auto")
    return origin.scheme, origin.netloc


def _forwarded(indent: str) -> Iterator[str]:
    yield f"{indent}# What the origin sees is set here, never taken from the client (docs/nginx.md)."
    yield f"{indent}proxy_http_version 1.1;"
    yield f'{indent}proxy_set_header Connection "";'
    yield f"{indent}proxy_set_header X-Forwarded-For $remote_addr;"
    yield f"{indent}proxy_set_header X-Real-IP $remote_addr;"
    yield f"{indent}proxy_set_header X-Forwarded-Proto $scheme;"
    yield f"{indent}proxy_set_header X-Forwarded-Host $host;"
    yield f"{indent}proxy_set_header X-Forwarded-Port $server_port;"
    yield f'{indent}proxy_set_header Forwarded "";'


def _page_cache(indent: str, key: str) -> Iterator[str]:
    yield f"{indent}proxy_cache edgesplit_pages;"
    yield f'{indent}proxy_cache_key "{key}";'
    yield f"{indent}# Stored only when the origin allows a shared cache (nginx's defaults: explicit freshness,"
    yield f"{indent}# no Set-Cookie, no private/no-store/no-cache, no Vary: *), a cacheable status, no Authorization."
    yield f"{indent}proxy_no_cache $edgesplit_uncacheable_status $http_authorization;"
    yield f"{indent}proxy_cache_bypass $http_authorization;"
    yield f"{indent}add_header X-Edgesplit-Cache $upstream_cache_status always;"


def render_nginx_config(config: Config, options: NginxConfigOptions) -> str:
    origin_scheme, origin_host = _check(options)
    settings = config.settings
    state = options.state_dir.rstrip("/") or "/"
    epoch_file = options.epoch_file or f"{state}/edgesplit-epoch.conf"
    if options.decide.startswith("unix:"):
        outcomes_server = "unix:" + outcomes_address(options.decide[len("unix:") :])
    else:
        outcomes_server = f"127.0.0.1:{options.outcomes_port or options.decide.rsplit(':', 1)[1]}"
    header = settings.decision.header
    prefix = settings.admin.path_prefix
    named = [("decision.header", header)]
    if settings.identity.id_header:
        named.append(("identity.id_header", settings.identity.id_header))
    for path, name in named:
        if not re.fullmatch(r"[A-Za-z0-9\-]+", name):
            raise NginxConfigError(f"{path} {name!r}: nginx mode needs letters, digits and '-' only")
    if not re.fullmatch(r"/[A-Za-z0-9_\-./]*", prefix):
        raise NginxConfigError(f"admin.path_prefix {prefix!r}: nginx mode needs letters, digits and _ - . /")
    keyed = sorted(
        {*DECISION_HEADERS, *targeting_headers(config.source)}
        | ({settings.identity.id_header.lower()} if settings.identity.id_header else set())
    )
    timeout = f"{options.decide_timeout_ms}ms"
    out: list[str] = [
        f"# Generated by `edgesplit nginx-config` for edgesplit config version {config.version!r}.",
        "# Every directive is explained in docs/nginx.md. Regenerate after changing the decision",
        "# header, the admin prefix, the identity header or the headers targeting reads.",
    ]
    if options.user:
        out.append(f"user {options.user};")
    out += [
        f"worker_processes {options.workers};",
        f"pid {state}/nginx.pid;",
        "events { worker_connections 4096; }",
        "",
        "http {",
        f"    error_log {state}/error.log warn;",
        "    access_log off;",
        f"    client_body_temp_path {state}/client_body;",
        f"    proxy_temp_path {state}/proxy_temp;",
        f"    fastcgi_temp_path {state}/fastcgi_temp;",
        f"    uwsgi_temp_path {state}/uwsgi_temp;",
        f"    scgi_temp_path {state}/scgi_temp;",
        "    server_tokens off;",
        "",
        "    # Pages, one copy per URL and variant vector; decisions, per visitor request.",
        f"    proxy_cache_path {state}/pages levels=1:2 keys_zone=edgesplit_pages:32m"
        f" max_size={options.page_cache_size} inactive=10m use_temp_path=off;",
    ]
    if options.decision_cache:
        out += [
            f"    proxy_cache_path {state}/decisions levels=1:2 keys_zone=edgesplit_decisions:32m"
            " max_size=256m inactive=2m use_temp_path=off;",
            "    # $edgesplit_config_epoch: written by `edgesplit decide --epoch-file`, new for every config.",
            f"    include {epoch_file};",
        ]
    out += [
        "",
        "    upstream edgesplit_origin {",
        f"        server {origin_host};",
        "        keepalive 64;",
        "    }",
        "    upstream edgesplit_decide {",
        f"        server {options.decide};",
        "        keepalive 64;",
        "    }",
        "",
        "    # Statuses a shared cache may keep (as the proxy's cache policy); anything else is not stored.",
        "    map $upstream_status $edgesplit_uncacheable_status {",
        f'        "~^({CACHEABLE_STATUSES})$" "";',
        "        default 1;",
        "    }",
        "    # A variant's page is private downstream: no shared cache after us may mix variants.",
        "    map $upstream_http_cache_control $edgesplit_private_cache_control {",
        '        "~*no-store" $upstream_http_cache_control;',
        '        "~*no-cache" "private, no-cache";',
        '        "~*(^|[ ,])max-age=(?<edgesplit_max_age>[0-9]+)" "private, max-age=$edgesplit_max_age";',
        '        default "private";',
        "    }",
        "    map $edgesplit_vector $edgesplit_client_cache_control {",
        '        "" $upstream_http_cache_control;',
        "        default $edgesplit_private_cache_control;",
        "    }",
        "    log_format edgesplit_outcome '$edgesplit_counted $status $request_time';",
        "",
        "    server {",
        f"        listen {options.listen};",
        f"        server_name {options.server_name};",
        "        client_max_body_size 16m;",
        "",
        "        # The auth_request subrequest: internal, so no client can call it or forge its answer.",
        f"        location = {DECIDE_PATH} {{",
        "            internal;",
        f"            proxy_pass http://edgesplit_decide{DECIDE_PATH};",
        "            proxy_pass_request_body off;",
        '            proxy_set_header Content-Length "";',
        "            proxy_set_header Host $host;",
        f"            proxy_set_header {ORIGINAL_METHOD} $request_method;",
        f"            proxy_set_header {ORIGINAL_URI} $request_uri;",
        f"            proxy_set_header {ORIGINAL_SCHEME} $scheme;",
        f"            proxy_set_header {CLIENT_IP} $remote_addr;",
        "            proxy_http_version 1.1;",
        '            proxy_set_header Connection "";',
        f"            proxy_connect_timeout {timeout};",
        f"            proxy_send_timeout {timeout};",
        f"            proxy_read_timeout {timeout};",
        "            proxy_buffer_size 32k;  # the answer's headers carry the Cookie header",
        "            proxy_buffers 4 32k;",
        "            proxy_busy_buffers_size 64k;",
    ]
    if options.decision_cache:
        key = "|".join(
            ["$edgesplit_config_epoch", "$request_method", "$scheme", "$host", "$request_uri"]
            + [_variable(name) for name in keyed]
            + ["$http_cookie"]
        )
        out += [
            "            # Reused only for the same config epoch, request line, decision headers and the",
            "            # whole Cookie header (so the same visitor); the service sends X-Accel-Expires: 0",
            "            # for answers that set a cookie or mint an id, which are never reused.",
            "            proxy_cache edgesplit_decisions;",
            f'            proxy_cache_key "{key}";',
            "            proxy_cache_methods GET HEAD;",
            "            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;",
        ]
    out += [
        "        }",
        "",
        "        # edgesplit's own endpoints (health, metrics, status, track, client script).",
        f"        location ^~ {prefix}/ {{",
        "            proxy_pass http://edgesplit_decide;",
        "            proxy_set_header Host $host;",
        *_forwarded("            "),
        "        }",
        "",
        "        location / {",
        f"            auth_request {DECIDE_PATH};",
        "            auth_request_set $edgesplit_vector $upstream_http_x_edgesplit_vector;",
        "            auth_request_set $edgesplit_token $upstream_http_x_edgesplit_token;",
        "            auth_request_set $edgesplit_cookie $upstream_http_x_edgesplit_cookie;",
        "            auth_request_set $edgesplit_set_identity $upstream_http_x_edgesplit_set_identity;",
        "            auth_request_set $edgesplit_set_decision $upstream_http_x_edgesplit_set_decision;",
        "            auth_request_set $edgesplit_counted $upstream_http_x_edgesplit_counted;",
    ]
    if options.fail_open:
        out.append(
            "            error_page 500 = @edgesplit_fail_open;  # the decision service failed: serve open"
        )
    else:
        out.append("            error_page 500 =503 /__edgesplit_unavailable;  # fail closed")
    out += [
        f"            proxy_pass {origin_scheme}://edgesplit_origin;",
        "            # Only edgesplit speaks for edgesplit: the client's header is replaced (or dropped).",
        f"            proxy_set_header {header} $edgesplit_token;",
        "            proxy_set_header Cookie $edgesplit_cookie;",
        *_forwarded("            "),
        *_page_cache("            ", "$scheme://$host$request_uri|$edgesplit_vector"),
        "            proxy_hide_header Cache-Control;",
        "            add_header Cache-Control $edgesplit_client_cache_control always;",
        "            add_header Set-Cookie $edgesplit_set_identity always;",
        "            add_header Set-Cookie $edgesplit_set_decision always;",
    ]
    out.append(
        f"            access_log syslog:server={outcomes_server},tag={TAG},nohostname"
        " edgesplit_outcome if=$edgesplit_counted;"
    )
    out.append("        }")
    if options.fail_open:
        out += [
            "",
            "        # The decision service is down or slow: the origin renders without a decision,",
            "        # cached as the page of no variant (never under a variant's key).",
            "        location @edgesplit_fail_open {",
            f"            proxy_pass {origin_scheme}://edgesplit_origin;",
            f'            proxy_set_header {header} "";',
            *_forwarded("            "),
            *_page_cache("            ", "$scheme://$host$request_uri|"),
            "            add_header X-Edgesplit-Decision-Status fail-open always;",
            "        }",
        ]
    else:
        out += [
            "        location = /__edgesplit_unavailable {",
            "            internal;",
            '            return 503 "503: the A/B decision service is unavailable\\n";',
            "        }",
        ]
    out += ["    }", "}", ""]
    if options.access_log:
        out.insert(out.index("    access_log off;"), f"    access_log {state}/access.log;")
        out.remove("    access_log off;")
    return "\n".join(out)
