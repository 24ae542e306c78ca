"""The JavaScript verifier (js/edgesplit-verify.mjs) and the Python core agree on the same
token vectors, byte for byte: both run here, the JS side under Node's own test runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgesplit import load_keyring, verify_token
from edgesplit.core import Manifest, ManifestBook
from venv_node import venv_node

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests" / "cases" / "token-vectors.json").read_text(encoding="utf-8"))
COMPACT = json.loads((ROOT / "tests" / "cases" / "token-vectors-es2.json").read_text(encoding="utf-8"))
MANIFESTS = ManifestBook(Manifest.parse(text) for text in COMPACT["manifests"].values())  # type: ignore[misc]

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="starts Node")


def python_keyring(vectors: dict = VECTORS) -> object:
    keys = []
    for key_id, spec in vectors["keys"].items():
        if spec["alg"] == "EdDSA":
            keys.append({"id": key_id, "alg": "EdDSA", "public_key": spec["publicKey"]})
        else:
            keys.append({"id": key_id, "secret": spec["secret"]})
    # A signing key must come first; the vectors' keys only verify.
    return load_keyring({"keys": [{"id": "signer", "secret": "A" * 43}, *keys]})


CASES = [(VECTORS, case) for case in VECTORS["cases"]] + [(COMPACT, case) for case in COMPACT["cases"]]


@pytest.mark.parametrize("vectors,case", CASES, ids=[case["name"] for _, case in CASES])
def test_python_core_gives_the_vector_answer(vectors: dict, case: dict) -> None:
    pytest.importorskip("cryptography")
    now = case.get("now", vectors["now"])
    result = verify_token(case["token"], python_keyring(vectors), now, manifests=MANIFESTS)
    assert result.ok == case["ok"]
    if case["ok"]:
        assert result.claims is not None and result.claims.to_json() == case["claims"]
    else:
        assert result.reason == case["reason"]


@pytest.mark.parametrize("case", COMPACT["cases"], ids=[case["name"] for case in COMPACT["cases"]])
def test_the_origin_helpers_give_the_vector_answer(case: dict) -> None:
    pytest.importorskip("cryptography")
    from edgesplit.integrations.app_middleware import DecisionReader

    now = case.get("now", COMPACT["now"])
    reader = DecisionReader(python_keyring(COMPACT), clock=lambda: now, manifests=MANIFESTS)  # type: ignore[arg-type]
    result = reader.read(case["token"])
    assert (result.ok, result.reason) == (case["ok"], case.get("reason"))
    if case["ok"]:
        assert result.claims is not None and result.claims.to_json() == case["claims"]


def test_javascript_verifier_passes_under_node_test_runner() -> None:
    node = venv_node()
    result = subprocess.run(
        [str(node), "--test", "js/edgesplit-verify.test.mjs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"pass {len(CASES) + 4}" in result.stdout


def test_the_es2_vectors_are_what_the_core_makes_today() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_token_vectors.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_at_500_experiments_the_es2_vector_stays_far_below_the_cookie_limit() -> None:
    big = next(case for case in COMPACT["cases"] if "500" in case["name"])
    assert len(big["claims"]["a"]) == 500 and len(big["token"]) < 1500


def test_the_served_browser_files_are_the_ones_in_js() -> None:
    """The proxy and the Worker serve embedded copies of js/: they must not drift apart."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "embed_js.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_browser_keys_are_the_public_half_only() -> None:
    from edgesplit.core import browser_keys

    ed25519 = pytest.importorskip("edgesplit.ed25519")
    key = ed25519.ed25519_key("ed-1", bytes(range(32)), None, None)
    keyring = load_keyring({"keys": [{"id": "hs", "secret": "A" * 43}]})
    assert browser_keys(keyring) == {}  # HMAC secrets never reach a browser
    from edgesplit.core import Keyring

    public = browser_keys(Keyring((key,)))
    assert list(public) == ["ed-1"] and public["ed-1"]["alg"] == "EdDSA"
    assert len(public["ed-1"]["publicKey"]) == 43 and "private" not in json.dumps(public)
