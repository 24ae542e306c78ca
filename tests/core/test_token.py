"""Decision tokens: round trip, tampering, rotation, lifetimes and hostile input."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import config, experiment

from edgesplit.core import (
    DecisionClaims,
    HmacKey,
    Keyring,
    KeyringError,
    assign,
    parse_keyring,
    sign_token,
    verify_token,
)
from edgesplit.core.b64 import b64url_decode, b64url_encode
from edgesplit.core.decision_token import REJECTION_REASONS

SECRET = bytes(range(32))
OTHER = bytes(range(1, 33))
NOW = 1_764_000_000
KEYRING = Keyring((HmacKey("k1", SECRET),))


def claims(**changes: object) -> DecisionClaims:
    fields = {
        "visitor_id": "visitor-1",
        "assignments": {"hero": "bold", "price": "control"},
        "config_version": "v7",
        "issued_at": NOW,
        "expires_at": NOW + 300,
        "held_out": frozenset({"price"}),
    }
    fields.update(changes)
    return DecisionClaims(**fields)  # type: ignore[arg-type]


def test_round_trip() -> None:
    token = sign_token(claims(), KEYRING)
    result = verify_token(token, KEYRING, NOW + 10)
    assert result.ok and result.reason is None and result.key_id == "k1"
    assert result.claims == claims()


def test_shape_is_compact_and_header_and_cookie_safe() -> None:
    token = sign_token(claims(), KEYRING)
    version, key_id, payload, signature = token.split(".")
    assert (version, key_id) == ("es1", "k1")
    assert all(c.isalnum() or c in "-_." for c in token)
    assert len(token) < 250
    assert json.loads(b64url_decode(payload) or b"") == claims().to_json()


def test_from_assignments_keeps_applicable_and_marks_held_out() -> None:
    cfg = config(
        experiment("on"),
        experiment("off", status="paused"),
        experiment("elsewhere", targeting={"paths": ["/x"]}),
    )
    result = assign(cfg, "v1", {"path": "/"})
    built = DecisionClaims.from_assignments("v1", result, cfg.version, NOW + 0.9, 60)
    assert set(built.assignments) == {"on", "off"}
    assert built.held_out == frozenset({"off"})
    assert (built.issued_at, built.expires_at, built.config_version) == (NOW, NOW + 60, "test-1")


def test_every_single_character_change_is_rejected() -> None:
    token = sign_token(claims(), KEYRING)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, original in enumerate(token):
        for replacement in (alphabet[(alphabet.index(original) + 1) % len(alphabet)], "="):
            tampered = token[:i] + replacement + token[i + 1 :]
            result = verify_token(tampered, KEYRING, NOW)
            assert not result.ok and result.reason in REJECTION_REASONS, (i, tampered)


def _resign(token: str, change: Callable[[bytes], bytes]) -> str:
    head, signature = token.rsplit(".", 1)
    return f"{head}.{b64url_encode(change(b64url_decode(signature)))}"


@pytest.mark.parametrize(
    "mangle,reason",
    [
        (lambda t: t[:-1], "malformed"),  # truncated signature: non-canonical base64
        (lambda t: _resign(t, lambda sig: sig[:-3]), "bad_signature"),  # truncated, canonical
        (lambda t: _resign(t, lambda sig: sig + b"\0"), "bad_signature"),
        (lambda t: t + "=", "malformed"),  # padded
        (lambda t: t + "==", "malformed"),
        (lambda t: t.rsplit(".", 1)[0], "malformed"),
        (lambda t: t + ".x", "malformed"),
        (lambda t: "es3" + t[3:], "unsupported_version"),
        (lambda t: t.replace(".k1.", ".k9.", 1), "unknown_key"),
        (lambda t: t.replace(".k1.", ".k 1.", 1), "malformed"),
        (lambda t: " " + t, "unsupported_version"),
        (lambda t: t + "\u00e9", "malformed"),
        (lambda t: t * 100, "malformed"),
        (lambda t: "", "malformed"),
    ],
)
def test_mangled_tokens(mangle: Callable[[str], str], reason: str) -> None:
    result = verify_token(mangle(sign_token(claims(), KEYRING)), KEYRING, NOW)
    assert (result.ok, result.reason, result.claims) == (False, reason, None)


def test_signature_from_another_secret_is_rejected() -> None:
    forged = sign_token(claims(), Keyring((HmacKey("k1", OTHER),)))
    assert verify_token(forged, KEYRING, NOW).reason == "bad_signature"


def test_lifetime() -> None:
    token = sign_token(claims(), KEYRING)
    assert verify_token(token, KEYRING, NOW + 300 + 59).ok  # within leeway
    assert verify_token(token, KEYRING, NOW + 300 + 60).reason == "expired"
    assert verify_token(token, KEYRING, NOW - 61).reason == "not_yet_valid"
    assert verify_token(token, KEYRING, NOW + 400, leeway=0).reason == "expired"


def test_rotation_new_key_signs_old_key_verifies_until_grace_ends() -> None:
    old = Keyring((HmacKey("2026-10", SECRET),))
    token_from_old = sign_token(claims(), old)
    rotated = parse_keyring(
        {
            "keys": [
                {"id": "2026-11", "secret": b64url_encode(OTHER)},
                {
                    "id": "2026-10",
                    "secret": b64url_encode(SECRET),
                    "verify_until": "2025-11-24T16:00:00Z",
                },
            ]
        }
    )
    assert rotated.signer.id == "2026-11"
    assert sign_token(claims(), rotated).split(".")[1] == "2026-11"
    grace_end = 1_764_000_000  # 2025-11-24T16:00:00Z
    assert verify_token(token_from_old, rotated, grace_end - 1).ok
    assert verify_token(token_from_old, rotated, grace_end + 1).reason == "retired_key"


def test_short_keys_are_refused() -> None:
    with pytest.raises(KeyringError, match="at least 32"):
        HmacKey("k", b"x" * 31)
    with pytest.raises(KeyringError, match=r"keys\[0\]: key 'k': secret is 16 bytes"):
        parse_keyring({"keys": [{"id": "k", "secret": b64url_encode(b"y" * 16)}]})


@pytest.mark.parametrize(
    "doc,message",
    [
        ({}, "keys: is required"),
        ({"keys": []}, "keys: must have at least 1 item"),
        ({"keys": [{"id": "k"}]}, "keys[0].secret: is required for HS256"),
        ({"keys": [{"id": "k", "secret": "!!"}]}, "keys[0].secret: must be base64url"),
        (
            {"keys": [{"id": "k", "secret": b64url_encode(SECRET), "verify_until": "tomorrow"}]},
            "keys[0].verify_until",
        ),
        (
            {
                "keys": [
                    {
                        "id": "k",
                        "secret": b64url_encode(SECRET),
                        "verify_until": "2026-01-01T00:00:00",
                    }
                ]
            },
            "needs a timezone",
        ),
        (
            {"keys": [{"id": "k", "alg": "EdDSA", "public_key": b64url_encode(SECRET)}]},
            "EdDSA needs an Ed25519 backend",
        ),
    ],
)
def test_keyring_problems(doc: dict, message: str) -> None:
    with pytest.raises(KeyringError) as caught:
        parse_keyring(doc)
    assert message in str(caught.value)
    assert b64url_encode(SECRET) not in str(caught.value)


def test_the_first_key_must_be_able_to_sign_now() -> None:
    with pytest.raises(KeyringError, match="the first key"):
        Keyring((HmacKey("a", SECRET, verify_until=NOW),))
    with pytest.raises(KeyringError, match="unique"):
        Keyring((HmacKey("a", SECRET), HmacKey("a", OTHER)))


def test_secrets_never_appear_in_repr() -> None:
    assert SECRET.hex() not in repr(KEYRING) and str(list(SECRET)) not in repr(KEYRING)


@given(st.text(max_size=300) | st.binary(max_size=300) | st.integers() | st.none())
def test_arbitrary_input_is_rejected_with_a_reason(token: object) -> None:
    result = verify_token(token, KEYRING, NOW)
    assert not result.ok and result.reason in REJECTION_REASONS


@given(
    visitor=st.text(st.characters(exclude_categories=()), max_size=100),
    assignments=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5),
)
def test_any_claims_round_trip(visitor: str, assignments: dict) -> None:
    original = claims(visitor_id=visitor, assignments=assignments, held_out=frozenset(list(assignments)[:1]))
    result = verify_token(sign_token(original, KEYRING), KEYRING, NOW)
    assert result.ok and result.claims == original


@given(st.binary(max_size=64))
def test_base64url_is_canonical(data: bytes) -> None:
    text = b64url_encode(data)
    assert b64url_decode(text) == data
    assert b64url_decode(text + "=") is None
