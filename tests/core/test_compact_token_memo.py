"""``pack`` remembers everything but the times: what it returns is still exactly what the
claims say, for every visitor, assignment, held-out set, time and manifest object."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.core import Manifest, compact_token
from edgesplit.core.compact_token import Packed, pack, unpack

MANIFEST = Manifest.of((f"exp-{i}", ("a", "b", "c")) for i in range(6))


def packed(manifest: Manifest, visitor: str, chosen: dict[str, str], held: frozenset[str], at: int) -> bytes:
    return pack(
        manifest,
        visitor_id=visitor,
        assignments=chosen,
        held_out=held,
        config_version="cfg-1",
        issued_at=at,
        expires_at=at + 600,
    )


def fresh(manifest: Manifest, visitor: str, chosen: dict[str, str], held: frozenset[str], at: int) -> bytes:
    compact_token.PACKED_BODIES.clear()
    return packed(manifest, visitor, chosen, held, at)


requests = st.tuples(
    st.sampled_from(["visitor-1", "visitor-2", "v"]),
    st.dictionaries(st.sampled_from([f"exp-{i}" for i in range(6)]), st.sampled_from("abc"), max_size=6),
    st.integers(min_value=0, max_value=2**31),
)


@settings(max_examples=200)
@given(st.lists(requests, min_size=1, max_size=12))
def test_a_remembered_body_packs_exactly_the_claims(calls: list[tuple[str, dict[str, str], int]]) -> None:
    for visitor, chosen, at in calls:
        held = frozenset(list(chosen)[:1])
        data = packed(MANIFEST, visitor, chosen, held, at)
        decoded = unpack(data, {MANIFEST.id: MANIFEST}.get)
        assert isinstance(decoded, Packed)
        assert (decoded.visitor_id, decoded.assignments, decoded.issued_at) == (visitor, chosen, at)
        assert decoded.expires_at == at + 600 and decoded.held_out == held
        assert data == fresh(MANIFEST, visitor, chosen, held, at)


def test_the_times_change_with_every_request_while_the_body_is_remembered() -> None:
    chosen = {"exp-0": "b", "exp-3": "c"}
    first = packed(MANIFEST, "visitor-1", chosen, frozenset(), 1000)
    later = packed(MANIFEST, "visitor-1", chosen, frozenset(), 5000)
    assert first != later
    decoded = unpack(later, {MANIFEST.id: MANIFEST}.get)
    assert isinstance(decoded, Packed) and (decoded.issued_at, decoded.expires_at) == (5000, 5600)


def test_a_different_manifest_object_under_the_same_id_is_packed_afresh() -> None:
    chosen = {"exp-1": "b"}
    packed(MANIFEST, "visitor-1", chosen, frozenset(), 1000)
    reordered = Manifest.of([("exp-1", ("b", "a", "c"))] + [(f"exp-{i}", ("a", "b", "c")) for i in (0, 2)])
    impostor = Manifest(reordered.experiments, reordered.text, MANIFEST.id, reordered.position)
    data = packed(impostor, "visitor-1", chosen, frozenset(), 1000)
    decoded = unpack(data, {MANIFEST.id: impostor}.get)
    assert isinstance(decoded, Packed) and decoded.assignments == chosen
    assert data == fresh(impostor, "visitor-1", chosen, frozenset(), 1000)


def test_the_memo_is_bounded() -> None:
    compact_token.PACKED_BODIES.clear()
    for number in range(compact_token.BODY_MEMO_MAX + 10):
        packed(MANIFEST, f"visitor-{number}", {"exp-0": "a"}, frozenset(), 1000)
    assert len(compact_token.PACKED_BODIES) <= compact_token.BODY_MEMO_MAX
