"""``base_after``: each action's base effect, including writes that land only partly."""

from __future__ import annotations

import pytest

from reconciler.sync.base import base_after, ends_link, new_note_link_id
from reconciler.sync.diff import plan_link
from reconciler.sync.groups import Why
from reconciler.sync.model import (
    Action,
    ActionKind,
    ContactState,
    LinkBase,
    LinkPlan,
    NoteConflictPolicy,
    PairPolicy,
    Rule,
)
from reconciler.sync.simulate import state_after
from tests.sync.builders import NOW, base, contact, note_link, summary, view
from tests.sync.helpers import execute

REASON = Why(Rule.NOTE_NEW).reason({})
MERGE = PairPolicy(note_conflict=NoteConflictPolicy.MERGE)
BASE_BODY = "one\ntwo\nthree\nfour"
A_BODY = "ONE\ntwo\nthree\nfour"
B_BODY = "one\ntwo\nthree\nFOUR"
MERGED = "ONE\ntwo\nthree\nFOUR"


def test_link_contacts_leaves_a_new_link_without_base() -> None:
    link = Action(ActionKind.LINK_CONTACTS, REASON, payload={"a_id": "a", "b_id": "b"})
    assert base_after(None, link) is None


def test_a_write_on_a_link_without_base_is_refused() -> None:
    update = Action(ActionKind.UPDATE_FIELDS, REASON, side="a", payload={"changes": {}})
    with pytest.raises(ValueError, match="ADOPT_BASE first"):
        base_after(None, update)


def test_create_note_needs_the_created_id() -> None:
    create = Action(
        ActionKind.CREATE_NOTE,
        REASON,
        side="b",
        link_id="L1",
        payload={"body": "x", "note_link_id": None, "source_note_id": "a1"},
    )
    with pytest.raises(ValueError, match="created note"):
        base_after(base(), create)
    after = base_after(base(), create, created_id="b9")
    assert after is not None
    (link,) = after.notes
    assert (link.note_link_id, link.a_note_id, link.b_note_id) == (
        new_note_link_id("L1", "a1", "b9"),
        "a1",
        "b9",
    )


def test_create_contact_starts_a_fresh_base() -> None:
    create = Action(
        ActionKind.CREATE_CONTACT,
        REASON,
        side="b",
        payload={
            "fields": {"email": "x@x.io"},
            "tags": ["VIP"],
            "tag_keys": ["vip"],
            "link_ref": "create:a:a1",
        },
    )
    after = base_after(None, create, created_id="b1")
    assert after == LinkBase(
        fields={"first_name": None, "last_name": None, "email": "x@x.io", "phone": None},
        tags={"vip": "VIP"},
    )


def test_link_ending_actions() -> None:
    for kind in (ActionKind.ARCHIVE_CONTACT, ActionKind.DELETE_CONTACT, ActionKind.UNLINK_CONTACTS):
        assert ends_link(Action(kind, REASON))
    assert not ends_link(Action(ActionKind.ADOPT_BASE, REASON))


def _merge_plan() -> tuple[LinkPlan, ContactState, ContactState, LinkBase]:
    a = contact("ca", note_bodies={"a1": A_BODY})
    b = contact("cb", note_bodies={"b1": B_BODY})
    link_base = base(note_links=[note_link("n1", "a1", "b1", BASE_BODY)])
    return plan_link(view(a, b, link_base), MERGE, (), NOW), a, b, link_base


def _apply_one(
    plan: LinkPlan, index: int, a: ContactState, b: ContactState, link_base: LinkBase
) -> tuple[ContactState, ContactState, LinkBase]:
    action = plan.actions[index]
    states = {"a": a, "b": b}
    assert action.side is not None
    after = state_after(states[action.side], action)
    assert isinstance(after, ContactState)
    states[action.side] = after
    new_base = base_after(link_base, action)
    assert new_base is not None
    return states["a"], states["b"], new_base


@pytest.mark.parametrize("landed", [0, 1])
def test_merge_with_one_write_lost_is_finished_by_the_next_run(landed: int) -> None:
    plan, a, b, link_base = _merge_plan()
    assert summary(plan) == [("update_note", "a"), ("update_note", "b")]
    a2, b2, base2 = _apply_one(plan, landed, a, b, link_base)
    # The base says which side still holds the old text: the next run simply copies.
    follow_up = plan_link(view(a2, b2, base2), PairPolicy(), (), NOW)  # manual: no merge
    assert not follow_up.conflicts
    assert [(x.kind, x.payload.get("body")) for x in follow_up.actions] == [
        (ActionKind.UPDATE_NOTE, MERGED)
    ]
    final_a, final_b, final_base = execute(follow_up, a2, b2, base2)
    assert final_base is not None
    assert final_a.notes is not None
    assert final_b.notes is not None
    assert final_a.notes["a1"].body == final_b.notes["b1"].body == final_base.notes[0].body


def test_merge_with_both_writes_landed_leaves_nothing_to_do() -> None:
    plan, a, b, link_base = _merge_plan()
    final_a, final_b, final_base = execute(plan, a, b, link_base)
    assert plan_link(view(final_a, final_b, final_base), MERGE, (), NOW).actions == ()


@pytest.mark.parametrize("landed", [0, 1])
def test_keep_both_with_one_copy_lost_is_finished_without_duplicates(landed: int) -> None:
    policy = PairPolicy(note_conflict=NoteConflictPolicy.KEEP_BOTH)
    a = contact("ca", note_bodies={"a1": A_BODY})
    b = contact("cb", note_bodies={"b1": B_BODY})
    link_base = base(note_links=[note_link("n1", "a1", "b1", BASE_BODY)])
    plan = plan_link(view(a, b, link_base), policy, (), NOW)
    partial = LinkPlan(plan.link_id, actions=(plan.actions[landed],))
    a2, b2, base2 = execute(partial, a, b, link_base)
    follow_up = plan_link(view(a2, b2, base2), policy, (), NOW)
    assert [x.kind for x in follow_up.actions] == [ActionKind.CREATE_NOTE]
    final_a, final_b, final_base = execute(follow_up, a2, b2, base2)
    assert final_base is not None
    assert final_a.notes is not None
    assert final_b.notes is not None
    assert sorted(n.body for n in final_a.notes.values()) == sorted([A_BODY, B_BODY])
    assert sorted(n.body for n in final_b.notes.values()) == sorted([A_BODY, B_BODY])
    assert plan_link(view(final_a, final_b, final_base), policy, (), NOW).actions == ()
