"""Compact (es2) decision tokens: size, round trip, manifests, hostile payloads, lifetimes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import DecisionClaims, HmacKey, Keyring, Manifest, ManifestBook, sign_token, verify_token
from edgesplit.core.b64 import b64url_decode, b64url_encode
from edgesplit.core.decision_token import MAX_LIFETIME_SECONDS, REJECTION_REASONS

SECRET = bytes(range(32))
NOW = 1_764_000_000
KEYRING = Keyring((HmacKey("k1", SECRET),))


def manifest(count: int, name: str = "experiment-number-{:03}", variants: tuple[str, ...] = ()) -> Manifest:
    return Manifest.of((name.format(i), variants or ("control", "treatment-long-name")) for i in range(count))


def claims(m: Manifest, **changes: object) -> DecisionClaims:
    fields: dict[str, object] = {
        "visitor_id": "visitor-0123456789abcdef",
        "assignments": {key: variants[-1] for key, variants in m.experiments},
        "config_version": "cfg-7",
        "issued_at": NOW,
        "expires_at": NOW + 86_400,
        "held_out": frozenset(),
        "manifest": m,
    }
    fields.update(changes)
    return DecisionClaims(**fields)  # type: ignore[arg-type]


def signed_raw(version: str, payload: bytes) -> str:
    head = f"{version}.k1.{b64url_encode(payload)}"
    return f"{head}.{b64url_encode(KEYRING.signer.sign(head.encode('ascii')))}"


@pytest.mark.parametrize("count", [1, 20, 100, 500])
def test_round_trip_and_size_grows_two_bytes_per_experiment(count: int) -> None:
    m = manifest(count)
    original = claims(m, held_out=frozenset({m.experiments[0][0]}))
    token = sign_token(original, KEYRING)
    assert token.startswith("es2.k1.")
    result = verify_token(token, KEYRING, NOW + 10, manifests=ManifestBook([m]))
    assert result.ok and result.claims == original
    assert result.claims is not None and result.claims.manifest is m
    assert result.claims.to_json()["m"] == m.id
    # 2 bytes an experiment in the payload: 8/3 base64 characters, plus a fixed header.
    assert len(token) <= 160 + -(-count * 8 // 3)
    assert len(token) < 1500


def test_size_does_not_depend_on_name_length() -> None:
    short = manifest(200, "e{}", ("a", "b"))
    long = manifest(200, "a-very-long-experiment-key-that-goes-on-and-on-{:03}", ("control", "x" * 60))
    assert len(sign_token(claims(short), KEYRING)) == len(sign_token(claims(long), KEYRING))


def test_es1_claims_sign_es1_and_keep_verifying_with_manifests_at_hand() -> None:
    m = manifest(3)
    legacy = claims(m, manifest=None)
    token = sign_token(legacy, KEYRING)
    assert token.startswith("es1.")
    result = verify_token(token, KEYRING, NOW, manifests=ManifestBook([m]))
    assert result.ok and result.claims == legacy and result.claims is not None
    assert result.claims.manifest is None


def test_unknown_manifest_is_refused_not_misread() -> None:
    m = manifest(5)
    token = sign_token(claims(m), KEYRING)
    reordered = Manifest.of(reversed(m.experiments))
    assert reordered.id != m.id
    for lookup in (None, ManifestBook(), ManifestBook([reordered]), lambda _id: reordered):
        result = verify_token(token, KEYRING, NOW, manifests=lookup)
        assert (result.ok, result.reason) == (False, "unknown_manifest")


def test_the_manifest_id_ignores_weights_but_not_keys_or_order() -> None:
    a = Manifest.of([("hero", ["control", "bold"]), ("price", ["a", "b"])])
    assert Manifest.of([("hero", ("control", "bold")), ("price", ("a", "b"))]).id == a.id
    assert Manifest.of([("hero", ["bold", "control"]), ("price", ["a", "b"])]).id != a.id
    assert Manifest.of([("price", ["a", "b"]), ("hero", ["control", "bold"])]).id != a.id


def test_published_manifest_text_parses_only_when_canonical() -> None:
    m = manifest(3)
    assert Manifest.parse(m.text) == m and Manifest.parse(m.text.encode()).id == m.id
    doc = json.loads(m.text)
    for bad in (
        json.dumps(doc),  # not compact
        json.dumps({"experiments": doc["experiments"], "edgesplit_manifest": 1}, separators=(",", ":")),
        m.text.replace('"edgesplit_manifest":1', '"edgesplit_manifest":2'),
        m.text.replace("control", "con trol"),
        m.text.replace('["control","treatment-long-name"]', "[]"),
        "[]",
        "{",
        "",
    ):
        assert Manifest.parse(bad) is None, bad


def test_signing_an_assignment_outside_the_manifest_is_refused() -> None:
    m = manifest(2)
    with pytest.raises(ValueError, match="not in manifest"):
        sign_token(claims(m, assignments={"elsewhere": "control"}), KEYRING)
    with pytest.raises(ValueError, match="variant 'zzz'"):
        sign_token(claims(m, assignments={m.experiments[0][0]: "zzz"}), KEYRING)


def _payload(m: Manifest, **changes: object) -> bytearray:
    return bytearray(b64url_decode(sign_token(claims(m, **changes), KEYRING).split(".")[2]) or b"")


def test_hostile_payloads_with_valid_signatures_are_refused() -> None:
    m = manifest(2)
    book = ManifestBook([m])
    good = _payload(m)
    assert verify_token(signed_raw("es2", bytes(good)), KEYRING, NOW, manifests=book).ok
    entry_at = len(good) - 4  # two entries of (gap, code)
    cases = {
        "unknown token flag": bytes([1]) + good[1:],
        "reserved entry flag": good[:-1] + bytes([good[-1] | 0b100]),
        "variant beyond the list": good[:-1] + bytes([5 << 3]),
        "position beyond the manifest": good[: entry_at + 2] + bytes([7, good[-1]]),
        "count beyond the manifest": good[: entry_at - 1] + bytes([3]) + good[entry_at:],
        "trailing byte": good + b"\0",
        "truncated": good[:-1],
        "non-minimal varint": bytes([0x80, 0x00]) + good[1:],
        "empty": b"",
    }
    for name, payload in cases.items():
        result = verify_token(signed_raw("es2", bytes(payload)), KEYRING, NOW, manifests=book)
        assert (result.ok, result.reason) == (False, "malformed"), name


@pytest.mark.parametrize("version", ["es1", "es2"])
def test_lifetimes_out_of_bounds_are_refused_though_signed(version: str) -> None:
    m = manifest(1)
    book = ManifestBook([m])
    manifest_or_none = m if version == "es2" else None

    def token(issued: int, expires: int) -> str:
        return sign_token(claims(m, issued_at=issued, expires_at=expires, manifest=manifest_or_none), KEYRING)

    assert verify_token(token(NOW, NOW + MAX_LIFETIME_SECONDS), KEYRING, NOW, manifests=book).ok
    far = verify_token(token(NOW, NOW + MAX_LIFETIME_SECONDS + 1), KEYRING, NOW, manifests=book)
    assert (far.ok, far.reason) == (False, "malformed")
    if version == "es1":  # es2 stores a lifetime, so exp cannot precede iat there
        backwards = verify_token(token(NOW, NOW - 1), KEYRING, NOW - 30, manifests=book)
        assert (backwards.ok, backwards.reason) == (False, "malformed")
    else:
        with pytest.raises(ValueError):
            token(NOW, NOW - 1)


def test_every_single_character_change_is_rejected() -> None:
    m = manifest(3)
    token = sign_token(claims(m), KEYRING)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    for i, original in enumerate(token):
        replacement = alphabet[(alphabet.index(original) + 1) % len(alphabet)]
        result = verify_token(
            token[:i] + replacement + token[i + 1 :], KEYRING, NOW, manifests=ManifestBook([m])
        )
        assert not result.ok and result.reason in REJECTION_REASONS, i


names = st.builds(str.__add__, st.sampled_from("aZ7"), st.text("abyz09._-", max_size=12))


@st.composite
def manifests_and_claims(draw: st.DrawFn) -> tuple[Manifest, DecisionClaims]:
    keys = draw(st.lists(names, min_size=1, max_size=24, unique=True))
    m = Manifest.of((key, draw(st.lists(names, min_size=1, max_size=17, unique=True))) for key in keys)
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    assignments = {key: draw(st.sampled_from(m.experiments[m.position[key]][1])) for key in chosen}
    held_out = frozenset(draw(st.lists(st.sampled_from(chosen), unique=True)) if chosen else [])
    issued = draw(st.integers(0, 2**34))
    return m, DecisionClaims(
        draw(st.text(max_size=80)),
        assignments,
        draw(st.text(max_size=128)),
        issued,
        issued + draw(st.integers(0, MAX_LIFETIME_SECONDS)),
        held_out,
        m,
    )


@given(manifests_and_claims())
def test_any_assignment_set_round_trips(case: tuple[Manifest, DecisionClaims]) -> None:
    m, original = case
    token = sign_token(original, KEYRING)
    result = verify_token(token, KEYRING, original.issued_at, manifests=ManifestBook([m]))
    assert result.ok, result.reason
    assert result.claims == original
    assert len(b64url_decode(token.split(".")[2]) or b"") <= 60 + len(
        original.visitor_id.encode("utf-8", "surrogatepass")
        + original.config_version.encode("utf-8", "surrogatepass")
    ) + 3 * len(original.assignments)


@given(st.binary(max_size=200))
def test_any_signed_payload_is_refused_or_read_never_raises(payload: bytes) -> None:
    m = manifest(4)
    result = verify_token(signed_raw("es2", payload), KEYRING, NOW, manifests=ManifestBook([m]))
    assert result.ok or result.reason in REJECTION_REASONS


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_published_text_parses_to_itself_or_nothing(text: str | bytes) -> None:
    parsed = Manifest.parse(text)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    assert parsed is None or parsed.text.encode("ascii") == raw


@given(manifests_and_claims())
def test_a_manifest_survives_publication(case: tuple[Manifest, DecisionClaims]) -> None:
    m, _ = case
    published = Manifest.parse(m.text)
    assert published == m and published is not None and published.id == m.id
