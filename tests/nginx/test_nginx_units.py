"""The nginx mode's pure parts: the subrequest protocol, the outcome log parser, the config
renderer's refusals, and the rendered config as ``nginx -t`` sees it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nginx_stack import require_nginx

from edgesplit import load_config
from edgesplit.cli import main
from edgesplit.nginx.config_render import (
    NginxConfigError,
    NginxConfigOptions,
    render_nginx_config,
    targeting_headers,
)
from edgesplit.nginx.outcomes import parse_outcome
from edgesplit.nginx.protocol import answer_headers, cacheable_seconds, request_from_nginx
from edgesplit.pipeline import Headers
from edgesplit.pipeline.decide import NO_DECISION, decide
from edgesplit.pipeline.request_decision import client_input
from servers import CONFIG, KEYRING

CONFIG_OBJ = load_config(CONFIG)
BROWSER = ("user-agent", "Mozilla/5.0 Firefox/130.0")


def decided(headers: list[tuple[str, str]], uri: str = "/page/home"):  # noqa: ANN201
    request = request_from_nginx(
        Headers([("host", "shop.example"), ("x-edgesplit-original-uri", uri), *headers]), "127.0.0.1"
    )
    given_input = client_input(request, CONFIG_OBJ)
    decision = decide(
        request,
        given_input.headers,
        given_input.cookies,
        CONFIG_OBJ,
        KEYRING,
        now=1e9,
        new_id=lambda: "fresh-visitor-0001",
        exposure_window_seconds=1800,
    )
    return request, given_input, decision


def test_the_original_request_comes_from_nginx_headers_only() -> None:
    request, _, _ = decided(
        [BROWSER, ("x-edgesplit-original-method", "post"), ("x-edgesplit-client-ip", "10.1.2.3")]
    )
    assert request.method == "POST" and request.url == "http://shop.example/page/home"
    assert request.client_ip == "10.1.2.3" and "x-edgesplit-original-uri" not in request.headers


@given(st.text(max_size=200), st.text(max_size=20), st.text(max_size=10))
def test_any_original_headers_give_a_usable_request(uri: str, method: str, scheme: str) -> None:
    headers = Headers(
        [
            ("x-edgesplit-original-uri", uri),
            ("x-edgesplit-original-method", method),
            ("x-edgesplit-original-scheme", scheme),
        ]
    )
    request = request_from_nginx(headers, None)
    assert (
        request.path.startswith("/")
        and request.method.isupper()
        and request.url.split(":")[0] in ("http", "https")
    )


def test_new_visitors_answers_are_never_reusable() -> None:
    _, given_input, decision = decided([BROWSER])
    assert decision.set_cookie is not None
    assert cacheable_seconds(decision, given_input, CONFIG_OBJ, 30) == 0
    names = dict(answer_headers(decision, "token", given_input, 0))
    assert names["X-Accel-Expires"] == "0" and names["X-Edgesplit-Set-Identity"].startswith("edgesplit_id=")


def test_a_returning_visitors_answer_is_reusable_within_half_the_token_life() -> None:
    _, first_input, first = decided([BROWSER, ("cookie", "edgesplit_id=returning-01")])
    cookie = first.decision_cookie.split(";")[0]
    _, given_input, decision = decided([BROWSER, ("cookie", f"edgesplit_id=returning-01; {cookie}; other=1")])
    assert decision.set_cookie is None and decision.decision_cookie is None
    assert cacheable_seconds(decision, given_input, CONFIG_OBJ, 30) == 30
    assert (
        cacheable_seconds(decision, given_input, CONFIG_OBJ, 10_000)
        == CONFIG_OBJ.settings.decision.ttl_seconds // 2
    )
    answer = dict(answer_headers(decision, "token", given_input, 30))
    assert (
        answer["X-Edgesplit-Cookie"] == "edgesplit_id=returning-01; other=1"
    )  # the decision cookie stays here
    assert answer["X-Edgesplit-Vector"] == f"hero:{decision.assignments['hero'].variant}"
    assert answer["X-Edgesplit-Counted"] == answer["X-Edgesplit-Vector"]


def test_untargeted_answers_carry_nothing_but_the_cookie() -> None:
    _, given_input, decision = decided([BROWSER, ("cookie", "a=1")], uri="/nowhere")
    assert decision is NO_DECISION
    assert answer_headers(decision, None, given_input, 5) == [
        ("X-Accel-Expires", "5"),
        ("X-Edgesplit-Cookie", "a=1"),
    ]


def test_outcome_lines_count_only_known_experiments_and_variants() -> None:
    line = b"<190>Dec  1 03:04:05 edgesplit: hero:bold,shop:zz,nope:x 503 0.012"
    decision, status, seconds = parse_outcome(line, CONFIG_OBJ)
    assert {k: a.variant for k, a in decision.assignments.items()} == {"hero": "bold"}
    assert status == 503 and seconds == 0.012 and decision.exposures == ()
    for junk in (
        b"",
        b"edgesplit: hero:bold",
        b"<1>x edgesplit: hero:bold abc 0.1",
        b"<1>x edgesplit: nope:x 200 0.1",
    ):
        assert parse_outcome(junk, CONFIG_OBJ) is None


@given(st.binary(max_size=300))
def test_any_datagram_is_parsed_or_ignored(data: bytes) -> None:
    outcome = parse_outcome(data, CONFIG_OBJ)
    assert outcome is None or outcome[0].assignments


def test_targeting_headers_are_found_anywhere_in_conditions() -> None:
    source = {
        "experiments": [
            {
                "targeting": {
                    "when": {"$or": [{"header.X-Tier": "gold"}, {"header.accept-language": {"$in": ["de"]}}]}
                }
            }
        ]
    }
    assert targeting_headers(source) == {"x-tier", "accept-language"}


@pytest.mark.parametrize(
    "field,value",
    [
        ("origin", "http://a;b"),
        ("origin", "ftp://x"),
        ("decide", "127.0.0.1:80; include /etc/passwd"),
        ("listen", "80 }"),
        ("state_dir", "/tmp/x y"),
        ("state_dir", "relative"),
        ("server_name", "a$host"),
        ("user", "root; worker_processes 64"),
        ("page_cache_size", "1g;"),
    ],
)
def test_hostile_options_are_refused_not_rendered(field: str, value: str) -> None:
    options = NginxConfigOptions(origin="http://127.0.0.1:3000")
    setattr(options, field, value)
    with pytest.raises(NginxConfigError):
        render_nginx_config(CONFIG_OBJ, options)


def test_the_printed_config_passes_nginx_t(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = require_nginx()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**CONFIG, "identity": {"secure": False, "id_header": "x-user-id"}}))
    state = tmp_path / "state"
    state.mkdir()
    code = main(
        [
            "nginx-config",
            "--config",
            str(config),
            "--origin",
            "http://127.0.0.1:3000",
            "--state-dir",
            str(state),
            "--listen",
            "127.0.0.1:18080",
            "--user",
            "root",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0 and "$http_x_user_id" in text and "auth_request /__edgesplit_decide;" in text
    (state / "edgesplit-epoch.conf").write_text('map $host $edgesplit_config_epoch { default "t"; }\n')
    (state / "nginx.conf").write_text(text)
    result = subprocess.run(
        [binary, "-t", "-p", str(state), "-c", str(state / "nginx.conf"), "-e", str(state / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert main(["nginx-config", "--config", str(config), "--origin", "gopher://x"]) == 2


@pytest.mark.parametrize(
    "section,field,value", [("decision", "header", "x-edge$host"), ("identity", "id_header", "x.user")]
)
def test_config_names_nginx_cannot_carry_safely_are_refused(section: str, field: str, value: str) -> None:
    """Valid HTTP header names that an nginx directive cannot carry verbatim."""
    document = json.loads(json.dumps(CONFIG))
    document.setdefault(section, {})[field] = value
    with pytest.raises(NginxConfigError, match=f"{section}."):
        render_nginx_config(load_config(document), NginxConfigOptions(origin="http://127.0.0.1:3000"))
