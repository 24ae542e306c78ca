"""Remembered exposure ids are exactly the idempotency keys: per visitor, experiment, variant,
config version and dedup window, and the memory of them is bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edgesplit.core import events
from edgesplit.core.events import exposure_event, exposure_id, idempotency_key

names = st.text(max_size=12)


@given(st.lists(st.tuples(names, names, names, names, st.integers(0, 2**40)), min_size=1, max_size=20))
def test_a_remembered_id_is_the_idempotency_key(keys: list[tuple[str, str, str, str, int]]) -> None:
    for _ in range(2):  # the second round answers from memory
        for visitor, experiment, variant, version, window in keys:
            expected = idempotency_key("exposure", visitor, experiment, variant, version, str(window))
            assert exposure_id(visitor, experiment, variant, version, window) == expected


def test_each_part_of_an_exposure_changes_its_id() -> None:
    base = exposure_event("visitor-1", "hero", "b", "v1", 120.0, 60)["id"]
    assert exposure_event("visitor-1", "hero", "b", "v1", 150.0, 60)["id"] == base  # same window
    for other in (
        exposure_event("visitor-2", "hero", "b", "v1", 120.0, 60),
        exposure_event("visitor-1", "price", "b", "v1", 120.0, 60),
        exposure_event("visitor-1", "hero", "a", "v1", 120.0, 60),
        exposure_event("visitor-1", "hero", "b", "v2", 120.0, 60),
        exposure_event("visitor-1", "hero", "b", "v1", 180.0, 60),
    ):
        assert other["id"] != base


def test_the_memory_of_ids_is_bounded() -> None:
    for number in range(events.EXPOSURE_IDS_MAX + 10):
        exposure_id(f"visitor-{number}", "hero", "b", "v1", 1)
    assert len(events.EXPOSURE_IDS) <= events.EXPOSURE_IDS_MAX
