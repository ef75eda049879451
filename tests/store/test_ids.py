"""Store ids: UUIDv7, so ids made one after another sort together (see ``store.types``)."""

from __future__ import annotations

import time
import uuid

from reconciler.store.types import new_id


def test_ids_are_uuid7_hex() -> None:
    made = [new_id() for _ in range(1000)]
    assert len(set(made)) == len(made)
    for value in made:
        assert len(value) == 32
        assert value == value.lower()
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122


def test_ids_lead_with_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= int(value[:12], 16) <= after
    time.sleep(0.002)
    # A later id sorts after an earlier one: a run's new links go to the end of each index.
    assert new_id() > value
