"""Write tests/cases/token-vectors-es2.json: compact (es2) tokens and lifetime refusals made by
the Python core, which the JS verifier (js/edgesplit-verify.test.mjs) and the origin helpers
must read the same way. Deterministic: fixed keys, fixed times.

    .venv/bin/python scripts/make_token_vectors.py           # rewrite
    .venv/bin/python scripts/make_token_vectors.py --check   # exit 1 if out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from generated_file import write_or_check

from edgesplit.core import DecisionClaims, HmacKey, Keyring, Manifest
from edgesplit.core.b64 import b64url_encode
from edgesplit.core.compact_token import pack
from edgesplit.core.decision_token import MAX_LIFETIME_SECONDS, sign_token
from edgesplit.ed25519 import ed25519_key

TARGET = Path(__file__).resolve().parent.parent / "tests" / "cases" / "token-vectors-es2.json"
NOW = 1_764_000_100
IAT = 1_764_000_000
SECRET = bytes(range(32))
SEED = bytes(range(100, 132))
HMAC = Keyring((HmacKey("hs-2026", SECRET),))
EDDSA = Keyring((ed25519_key("ed-2026", SEED, None, None),))
BIG = Manifest.of((f"experiment-number-{i:03}", ("control", "treatment-long-name")) for i in range(500))
SMALL = Manifest.of([("hero", ["control", "bold", "calm"]), ("pricing-layout", ["list", "cards"])])
UNPUBLISHED = Manifest.of([("hero", ["control", "bold"])])


BASE: dict[str, Any] = {
    "visitor_id": "visitor-ünï",
    "assignments": {"hero": "bold", "pricing-layout": "cards"},
    "config_version": "cfg-7",
    "issued_at": IAT,
    "expires_at": IAT + 300,
    "held_out": frozenset({"pricing-layout"}),
}


def claims(manifest: Manifest | None, **changes: Any) -> DecisionClaims:
    return DecisionClaims(**{**BASE, "manifest": manifest, **changes})


def signed_payload(keyring: Keyring, payload: bytes) -> str:
    head = f"es2.{keyring.signer.id}.{b64url_encode(payload)}"
    return f"{head}.{b64url_encode(keyring.signer.sign(head.encode('ascii')))}"


def good(name: str, keyring: Keyring, value: DecisionClaims) -> dict[str, Any]:
    return {"name": name, "token": sign_token(value, keyring), "ok": True, "claims": value.to_json()}


def bad(name: str, token: str, reason: str) -> dict[str, Any]:
    return {"name": name, "token": token, "ok": False, "reason": reason}


def cases() -> list[dict[str, Any]]:
    every = {key: "treatment-long-name" for key, _ in BIG.experiments}
    big = claims(BIG, assignments=every, held_out=frozenset({"experiment-number-007"}), visitor_id="v" * 22)
    small = good("es2 HMAC token", HMAC, claims(SMALL))
    flagged = pack(
        SMALL,
        visitor_id="visitor-1",
        assignments={"hero": "bold"},
        held_out=frozenset(),
        config_version="cfg-7",
        issued_at=IAT,
        expires_at=IAT + 300,
        flags=1,
    )
    return [
        small,
        good("es2 Ed25519 token", EDDSA, claims(SMALL)),
        good("es2 HMAC token, 500 experiments", HMAC, big),
        good("es2 token, no experiment applies", HMAC, claims(SMALL, assignments={}, held_out=frozenset())),
        bad("es2 tampered signature", small["token"][:-3] + "AAA", "bad_signature"),
        bad(
            "es2 unpublished manifest",
            sign_token(claims(UNPUBLISHED, assignments={"hero": "bold"}, held_out=frozenset()), HMAC),
            "unknown_manifest",
        ),
        bad("es2 unknown token flag", signed_payload(HMAC, flagged), "malformed"),
        bad(
            "es2 lifetime over 400 days",
            sign_token(claims(SMALL, expires_at=IAT + MAX_LIFETIME_SECONDS + 1), HMAC),
            "malformed",
        ),
        bad("es1 exp before iat", sign_token(claims(None, expires_at=IAT - 1), HMAC), "malformed"),
        bad(
            "es1 lifetime over 400 days",
            sign_token(claims(None, expires_at=IAT + MAX_LIFETIME_SECONDS + 1), HMAC),
            "malformed",
        ),
    ]


def render() -> str:
    doc = {
        "description": "Compact (es2) tokens and lifetime refusals made by the Python core "
        "(scripts/make_token_vectors.py); every verifier must agree (tests/integrations)",
        "keys": {
            "hs-2026": {"alg": "HS256", "secret": b64url_encode(SECRET)},
            "ed-2026": {"alg": "EdDSA", "publicKey": b64url_encode(EDDSA.signer.public_key_bytes)},
        },
        "manifests": {BIG.id: BIG.text, SMALL.id: SMALL.text},
        "now": NOW,
        "cases": cases(),
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    return write_or_check(TARGET, render(), "python scripts/make_token_vectors.py")


if __name__ == "__main__":
    sys.exit(main())
