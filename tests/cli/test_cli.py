"""The command line, run as users run it: a real subprocess of the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgesplit.cli import parse_attributes

EDGESPLIT = shutil.which("edgesplit", path=os.path.dirname(sys.executable)) or "edgesplit"
CONFIG = {
    "schema_version": 1,
    "version": "cli-1",
    "experiments": [
        {"key": "hero", "variants": [{"key": "control"}, {"key": "bold"}]},
        {
            "key": "shop",
            "variants": [{"key": "a"}, {"key": "b"}],
            "targeting": {"paths": ["/shop/**"], "when": {"country": "US"}},
        },
    ],
}


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EDGESPLIT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(run("keys", "generate", "--id", "k1").stdout)
    return path


def test_validate_ok(config_file: Path) -> None:
    result = run("validate", str(config_file))
    assert result.returncode == 0
    assert "valid (version 'cli-1', 2 experiments, 2 running)" in result.stdout


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "schema_version": 1,
                "version": "x",
                "experiments": [
                    {
                        "key": "a",
                        "variants": [{"key": "a", "weight": -1}, {"key": "b"}],
                        "coverage": 3,
                    }
                ],
            }
        )
    )
    result = run("validate", str(bad))
    assert result.returncode == 1
    assert "experiments[0].variants[0].weight: must be >= 0" in result.stderr
    assert "experiments[0].coverage: must be <= 1" in result.stderr
    assert "2 problems" in result.stderr


def test_validate_missing_file(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope.json"))
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_assign_prints_json(config_file: Path) -> None:
    result = run(
        "assign",
        str(config_file),
        "--id",
        "visitor-1",
        "--attr",
        "path=/shop/x",
        "--attr",
        "country=US",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"hero", "shop"}
    assert out["shop"]["in_experiment"] is True and out["shop"]["variant"] in ("a", "b")
    elsewhere = json.loads(run("assign", str(config_file), "--id", "visitor-1").stdout)
    assert elsewhere["shop"] == {
        "variant": None,
        "index": None,
        "in_experiment": False,
        "reason": "not_targeted",
    }
    assert elsewhere["hero"] == out["hero"]


def test_token_sign_then_verify(config_file: Path, keys_file: Path) -> None:
    signed = run("token", "sign", str(config_file), "--id", "v-9", "--keys", str(keys_file))
    assert signed.returncode == 0, signed.stderr
    token = signed.stdout.strip()
    assert token.startswith("es2.k1.")
    unnamed = run("token", "verify", token, "--keys", str(keys_file))
    assert unnamed.returncode == 1 and json.loads(unnamed.stdout)["reason"] == "unknown_manifest"
    verified = run("token", "verify", token, "--keys", str(keys_file), "--config", str(config_file))
    assert verified.returncode == 0
    claims = json.loads(verified.stdout)["claims"]
    assert claims["v"] == "v-9" and claims["c"] == "cli-1" and set(claims["a"]) == {"hero"}
    tampered = run("token", "verify", token[:-2] + "AA", "--keys", str(keys_file))
    assert tampered.returncode == 1 and json.loads(tampered.stdout)["ok"] is False
    named = ("--keys", str(keys_file), "--config", str(config_file))
    expired = run("token", "verify", token, *named, "--now", "9999999999")
    assert json.loads(expired.stdout)["reason"] == "expired"


def test_keys_from_environment(config_file: Path, keys_file: Path) -> None:
    env = {"EDGESPLIT_KEYS": keys_file.read_text()}
    token = run("token", "sign", str(config_file), "--id", "v", "--format", "es1", env=env).stdout.strip()
    assert token.startswith("es1.") and run("token", "verify", token, env=env).returncode == 0


def test_missing_keys_explain_themselves(config_file: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "EDGESPLIT_KEYS"}
    result = subprocess.run(
        [EDGESPLIT, "token", "sign", str(config_file), "--id", "v"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1 and "edgesplit keys generate" in result.stderr


def test_schema_is_printed() -> None:
    assert json.loads(run("schema").stdout)["title"] == "edgesplit configuration"


def test_parse_attributes() -> None:
    assert parse_attributes(["country=US", "visits:=3", "query.ref=news", "cookie.plan=pro", "a=b:=c"]) == {
        "country": "US",
        "visits": 3,
        "query": {"ref": "news"},
        "cookie": {"plan": "pro"},
        "a": "b:=c",
    }
    with pytest.raises(SystemExit):
        parse_attributes(["novalue"])


def test_ed25519_keyring_signs_and_gives_browsers_only_its_public_key(
    config_file: Path, tmp_path: Path
) -> None:
    generated = run("keys", "generate", "--alg", "EdDSA", "--id", "ed-1")
    assert generated.returncode == 0, generated.stderr
    keys = tmp_path / "ed.json"
    keys.write_text(generated.stdout)
    [key] = json.loads(generated.stdout)["keys"]
    public = run("keys", "public", "--keys", str(keys))
    assert json.loads(public.stdout) == {"ed-1": {"alg": "EdDSA", "publicKey": key["public_key"]}}
    assert key["private_key"] not in public.stdout
    token = run("token", "sign", str(config_file), "--id", "v", "--keys", str(keys)).stdout.strip()
    named = run("token", "verify", token, "--keys", str(keys), "--config", str(config_file))
    assert token.startswith("es2.ed-1.") and named.returncode == 0
    hmac_only = tmp_path / "hs.json"
    hmac_only.write_text(run("keys", "generate").stdout)
    refused = run("keys", "public", "--keys", str(hmac_only))
    assert refused.returncode == 1 and "HMAC secrets cannot be given to browsers" in refused.stderr
