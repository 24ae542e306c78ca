"""Property: any assignment set the Python core signs as es2, the JS verifier reads back to the
same claims (random manifests, names, held-out sets, visitor ids and lifetimes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgesplit.core import DecisionClaims, HmacKey, Keyring, Manifest, sign_token
from edgesplit.core.b64 import b64url_encode
from edgesplit.core.decision_token import MAX_LIFETIME_SECONDS
from venv_node import venv_node

pytestmark = pytest.mark.skipif(sys.platform == "emscripten", reason="starts Node")

HERE = Path(__file__).resolve().parent
SECRET = bytes(range(32))
KEYRING = Keyring((HmacKey("k1", SECRET),))
NOW = 1_764_000_000

names = st.builds(str.__add__, st.sampled_from("aZ7"), st.text("abyz09._-", max_size=12))


@st.composite
def signed(draw: st.DrawFn) -> tuple[Manifest, DecisionClaims, str]:
    keys = draw(st.lists(names, min_size=1, max_size=30, unique=True))
    manifest = Manifest.of((key, draw(st.lists(names, min_size=1, max_size=20, unique=True))) for key in keys)
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    assignments = {k: draw(st.sampled_from(manifest.experiments[manifest.position[k]][1])) for k in chosen}
    held_out = frozenset(draw(st.lists(st.sampled_from(chosen), unique=True)) if chosen else [])
    issued = NOW - draw(st.integers(0, 3600))
    claims = DecisionClaims(
        draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=40)),
        assignments,
        draw(st.text(st.characters(exclude_categories=("Cs",)), max_size=40)),
        issued,
        issued + draw(st.integers(3600, MAX_LIFETIME_SECONDS)),
        held_out,
        manifest,
    )
    return manifest, claims, sign_token(claims, KEYRING)


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(signed(), min_size=15, max_size=15))
def test_the_js_verifier_reads_what_the_core_signs(batch: list[tuple[Manifest, DecisionClaims, str]]) -> None:
    request = {
        "keys": {"k1": {"alg": "HS256", "secret": b64url_encode(SECRET)}},
        "manifests": {manifest.id: manifest.text for manifest, _, _ in batch},
        "now": NOW,
        "tokens": [token for _, _, token in batch],
    }
    result = subprocess.run(
        [str(venv_node()), str(HERE / "verify_batch.mjs")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for (_, claims, token), answer in zip(batch, json.loads(result.stdout), strict=True):
        assert answer["ok"], (token, answer)
        assert answer["claims"] == claims.to_json()
