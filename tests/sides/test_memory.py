"""What only the memory side has: user-side changes, fault injection, a daily budget, scale."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.errors import (
    BudgetReservedError,
    NotFoundError,
    PermanentItemError,
    RateLimitedError,
    RetriableError,
    UncertainWriteError,
)
from reconciler.sides.base import Capabilities, Contact, ContactDraft
from reconciler.sides.memory import MemoryFaults, MemorySide


class SteppingClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_user_changes_are_visible_and_cost_nothing() -> None:
    clock = SteppingClock()
    side = MemorySide(clock=clock)
    contact = side.user.add_contact(first_name="Ann", email="ann@example.com", tags=["Lead"])
    note = side.user.add_note(contact.id, "first call")
    clock.advance(60)
    side.user.add_tag(contact.id, "VIP")
    side.user.edit_note(contact.id, note.id, "first call, left a message")
    side.user.edit_contact(contact.id, last_name="Lee")
    assert side.usage().total_requests == 0
    seen = await side.get_contact(contact.id)
    assert seen.tags == {"lead", "vip"}
    assert seen.last_name == "Lee"
    # Two changes in the same instant: the second is stamped a millisecond later.
    assert seen.date_updated == clock.now + timedelta(milliseconds=1)
    assert [n.body for n in await side.get_notes(contact.id)] == ["first call, left a message"]
    side.user.delete_note(contact.id, note.id)
    side.user.remove_tag(contact.id, "lead")
    assert (await side.get_contact(contact.id)).tags == {"vip"}
    assert await side.get_notes(contact.id) == []


async def test_note_edits_do_not_move_the_contact() -> None:
    clock = SteppingClock()
    side = MemorySide(clock=clock)
    contact = side.user.add_contact(email="a@example.com")
    clock.advance(5)
    note = side.user.add_note(contact.id, "x")
    side.user.edit_note(contact.id, note.id, "y")
    assert side.user.contact(contact.id).date_updated == contact.date_updated


async def test_updates_within_one_millisecond_still_move_forward() -> None:
    side = MemorySide(clock=SteppingClock())  # a clock that never moves
    contact = side.user.add_contact(email="a@example.com")
    once = side.user.add_tag(contact.id, "a")
    twice = side.user.add_tag(contact.id, "b")
    assert contact.date_updated is not None
    assert once.date_updated == contact.date_updated + timedelta(milliseconds=1)
    assert twice.date_updated == contact.date_updated + timedelta(milliseconds=2)


async def test_duplicates_can_be_allowed() -> None:
    side = MemorySide(allow_duplicates=True)
    one = await side.create_contact(ContactDraft(email="same@example.com"))
    two = await side.create_contact(ContactDraft(email="SAME@example.com"))
    assert one.id != two.id
    assert {c.id for c in await side.find_contacts(email="same@example.com")} == {one.id, two.id}


async def test_ids_are_reproducible_from_the_seed() -> None:
    first = MemorySide(id_seed=3).user.populate(3)
    again = MemorySide(id_seed=3).user.populate(3)
    other = MemorySide(id_seed=4).user.populate(3)
    assert first == again != other


async def test_populate() -> None:
    side = MemorySide()
    ids = side.user.populate(50, tags_per_contact=4, notes_per_contact=2)
    assert len(side.user) == 50 == len(set(ids))
    assert all(len(side.user.contact(i).tags) == 4 for i in ids)
    assert all(len(side.user.notes(i)) == 2 for i in ids)
    more = side.user.populate(10, seed=1)  # a second batch never collides with the first
    assert len(side.user) == 60
    assert not set(more) & set(ids)


async def test_reads_build_whole_contacts() -> None:
    # The store keeps contacts as tuples and sets a Contact's slots one by one on each read:
    # a field added to Contact but not to the stored layout would be left unset.
    clock = SteppingClock()
    side = MemorySide(clock=clock)
    made = side.user.add_contact(
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        phone="555-010-0200",
        tags=["VIP"],
    )
    expected = Contact(
        id=made.id,
        first_name="Ann",
        last_name="Lee",
        email="ann@example.com",
        phone="+15550100200",
        tags=frozenset({"vip"}),
        date_added=clock.now,
        date_updated=clock.now,
    )
    assert made == expected
    assert side.user.contact(made.id) == expected == await side.get_contact(made.id)
    assert [c async for page in side.stream_contacts() for c in page.contacts] == [expected]
    assert hash(made) == hash(expected)


# -- faults ----------------------------------------------------------------------------------


async def test_injected_429_and_5xx_happen_before_any_effect() -> None:
    side = MemorySide(faults=MemoryFaults(rate_limited=1.0))
    with pytest.raises(RateLimitedError):
        await side.create_contact(ContactDraft(email="a@example.com"))
    side.set_faults(MemoryFaults(retriable=1.0))
    with pytest.raises(RetriableError):
        await side.create_contact(ContactDraft(email="a@example.com"))
    assert len(side.user) == 0
    usage = side.usage()
    assert usage.rate_limited == 1
    assert usage.errors == {"RateLimitedError": 1, "RetriableError": 1}
    assert usage.requests == {"POST /contacts/": 2}


async def test_an_uncertain_write_was_applied() -> None:
    side = MemorySide(faults=MemoryFaults(uncertain_write=1.0))
    with pytest.raises(UncertainWriteError):
        await side.create_contact(ContactDraft(email="a@example.com"))
    assert [c.email for c in side.user.contacts()] == ["a@example.com"]
    contact_id = side.user.contacts()[0].id
    with pytest.raises(UncertainWriteError):
        await side.add_tags(contact_id, frozenset({"x"}))
    assert side.user.contact(contact_id).tags == {"x"}
    with pytest.raises(UncertainWriteError):
        await side.create_note(contact_id, "n")
    assert [n.body for n in side.user.notes(contact_id)] == ["n"]


async def test_incomplete_pages_say_so() -> None:
    side = MemorySide(page_size=10, faults=MemoryFaults(incomplete_page=0.5, seed=4))
    ids = set(side.user.populate(100))
    pages = [page async for page in side.stream_contacts()]
    listed = {c.id for p in pages for c in p.contacts}
    incomplete = [p for p in pages if not p.complete]
    assert incomplete
    assert listed < ids  # something really was lost...
    assert all(p.complete for p in pages if len(p.contacts) == 10)  # ...only where flagged


async def test_faults_replay_from_the_seed() -> None:
    async def outcome(seed: int) -> list[str]:
        side = MemorySide(faults=MemoryFaults(retriable=0.3, rate_limited=0.3, seed=seed))
        ids = side.user.populate(40)
        return [
            type(item.error).__name__ if item.error else "ok" async for item in side.list_notes(ids)
        ]

    assert await outcome(1) == await outcome(1)
    assert await outcome(1) != await outcome(2)
    assert "ok" in await outcome(1)
    assert "RateLimitedError" in await outcome(1)


def test_fault_probabilities_are_checked() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        MemoryFaults(retriable=1.5)


# -- budget and capabilities -------------------------------------------------------------------


async def test_the_daily_budget_keeps_its_reserve() -> None:
    side = MemorySide(daily_budget=10, budget_reserve=3)
    contact = side.user.add_contact(email="a@example.com")
    for _ in range(7):
        await side.get_contact(contact.id)
    with pytest.raises(BudgetReservedError):
        await side.get_contact(contact.id)
    usage = side.usage()
    assert usage.total_requests == 7
    assert usage.budget_remaining_daily == 3
    assert usage.budget_reserve_reached is True
    with pytest.raises(BudgetReservedError):
        _ = [item async for item in side.list_notes([contact.id])]


async def test_a_read_only_side_refuses_writes() -> None:
    side = MemorySide(capabilities=Capabilities(read_only=True, supports_delete=False))
    contact = side.user.add_contact(email="a@example.com")
    assert (await side.get_contact(contact.id)).id == contact.id
    with pytest.raises(PermanentItemError, match="read-only"):
        await side.add_tags(contact.id, frozenset({"x"}))
    with pytest.raises(PermanentItemError, match="does not delete"):
        await side.delete_contact(contact.id)
    assert side.user.contact(contact.id).tags == frozenset()


async def test_user_helpers_raise_not_found() -> None:
    side = MemorySide()
    with pytest.raises(NotFoundError):
        side.user.add_tag("nope", "x")
    with pytest.raises(ValueError, match="not core fields"):
        side.user.edit_contact(side.user.add_contact().id, tags="x")


@pytest.mark.slow
async def test_a_hundred_thousand_contacts() -> None:
    side = MemorySide()
    started = time.perf_counter()
    ids = side.user.populate(100_000, tags_per_contact=5, notes_per_contact=3)
    listed = [c.id async for page in side.stream_contacts() for c in page.contacts]
    notes = sum([len(item.notes or ()) async for item in side.list_notes(ids)])
    elapsed = time.perf_counter() - started
    assert sorted(listed) == sorted(ids)
    assert notes == 300_000
    assert side.usage().requests["POST /contacts/search"] == 201
    assert elapsed < 60  # a few seconds on a laptop; the bound only catches a quadratic slip
