"""Ed25519 tokens (CPython, with the optional ``cryptography`` dependency)."""

from __future__ import annotations

import pytest

pytest.importorskip("cryptography")

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgesplit import load_keyring
from edgesplit.core import DecisionClaims, KeyringError, sign_token, verify_token
from edgesplit.core.b64 import b64url_encode

SEED = bytes(range(32))
PUBLIC = (
    Ed25519PrivateKey.from_private_bytes(SEED)
    .public_key()
    .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
)
CLAIMS = DecisionClaims("v", {"hero": "b"}, "c1", 100, 400)


def test_public_key_verifies_what_the_private_key_signed() -> None:
    signer = load_keyring({"keys": [{"id": "ed1", "alg": "EdDSA", "private_key": b64url_encode(SEED)}]})
    verifier = load_keyring(
        {
            "keys": [
                {"id": "hs", "secret": b64url_encode(bytes(32))},
                {"id": "ed1", "alg": "EdDSA", "public_key": b64url_encode(PUBLIC)},
            ]
        }
    )
    token = sign_token(CLAIMS, signer)
    assert verify_token(token, verifier, 200).claims == CLAIMS
    assert verify_token(token[:-2] + ("AA" if token[-2:] != "AA" else "AB"), verifier, 200).reason in (
        "bad_signature",
        "malformed",
    )


def test_a_public_only_key_cannot_sign_first() -> None:
    with pytest.raises(KeyringError, match="the first key"):
        load_keyring({"keys": [{"id": "ed1", "alg": "EdDSA", "public_key": b64url_encode(PUBLIC)}]})


def test_mismatched_pair_is_refused() -> None:
    with pytest.raises(KeyringError, match="does not match"):
        load_keyring(
            {
                "keys": [
                    {
                        "id": "ed1",
                        "alg": "EdDSA",
                        "private_key": b64url_encode(SEED),
                        "public_key": b64url_encode(bytes(32)),
                    }
                ]
            }
        )
