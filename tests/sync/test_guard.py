"""The delete guard (DESIGN invariant 5)."""

from __future__ import annotations

from reconciler.sync.groups import Why
from reconciler.sync.model import Action, ActionKind, LinkPlan, PairPolicy, Plan, Rule
from reconciler.sync.plan import delete_guard

POLICY = PairPolicy(delete_guard_share=0.1, delete_guard_min=5)
REASON = Why(Rule.CONTACT_DELETE).reason({})


def _plan(contacts: int = 0, archives: int = 0, notes: int = 0, unlinks: int = 0) -> Plan:
    actions = (
        [Action(ActionKind.DELETE_CONTACT, REASON, side="b")] * contacts
        + [Action(ActionKind.ARCHIVE_CONTACT, REASON, side="b")] * archives
        + [Action(ActionKind.DELETE_NOTE, REASON, side="a")] * notes
        + [Action(ActionKind.UNLINK_CONTACTS, REASON)] * unlinks
    )
    return Plan(links=(LinkPlan("L1", actions=tuple(actions)),))


def test_guard_trips_past_the_share_of_linked_contacts() -> None:
    verdict = delete_guard(
        _plan(contacts=3, archives=3), linked_count=50, note_count=0, policy=POLICY
    )
    assert verdict.tripped
    assert (verdict.contact_deletes, verdict.contact_share) == (6, 6 / 50)
    assert "contact deletions" in verdict.message


def test_guard_holds_within_the_share() -> None:
    verdict = delete_guard(_plan(contacts=5), linked_count=50, note_count=0, policy=POLICY)
    assert not verdict.tripped
    assert verdict.contact_share == 0.1


def test_guard_ignores_tiny_numbers_of_deletions() -> None:
    verdict = delete_guard(_plan(contacts=4, notes=4), linked_count=4, note_count=4, policy=POLICY)
    assert not verdict.tripped


def test_guard_counts_note_deletions_against_notes_read() -> None:
    verdict = delete_guard(_plan(notes=20), linked_count=100, note_count=100, policy=POLICY)
    assert verdict.tripped
    assert (verdict.note_deletes, verdict.note_share) == (20, 0.2)
    assert "note deletions" in verdict.message


def test_guard_does_not_count_unlinks() -> None:
    verdict = delete_guard(_plan(unlinks=40), linked_count=50, note_count=0, policy=POLICY)
    assert not verdict.tripped
    assert verdict.contact_deletes == 0


def test_guard_with_nothing_looked_at_trips_on_enough_deletions() -> None:
    assert delete_guard(_plan(notes=5), linked_count=0, note_count=0, policy=POLICY).tripped
