"""Notes: one rule per test (DESIGN.md, Merge semantics)."""

from __future__ import annotations

from reconciler.sync.base import new_note_link_id
from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    ContactState,
    LinkBase,
    LinkPlan,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    PairPolicy,
    Rule,
)
from reconciler.sync.normalise import note_hash
from tests.sync.builders import NOW, base, contact, note_link, only, summary, view
from tests.sync.helpers import execute

BASE_BODY = "Called Ann\nShe wants a quote\nFollow up Friday"


def _plan(
    a_notes: dict[str, str] | None,
    b_notes: dict[str, str] | None,
    *,
    links: tuple[tuple[str, str, str, str], ...] = (("n1", "a1", "b1", BASE_BODY),),
    **policy: object,
) -> tuple[LinkPlan, ContactState, ContactState, LinkBase]:
    a = contact("ca", note_bodies=a_notes)
    b = contact("cb", note_bodies=b_notes)
    link_base = base(note_links=[note_link(*link) for link in links])
    plan = plan_link(view(a, b, link_base), PairPolicy(**policy), (), NOW)  # type: ignore[arg-type]
    return plan, a, b, link_base


def test_note_changed_on_one_side_is_copied() -> None:
    edited = BASE_BODY + "\nSent it"
    plan, *_ = _plan({"a1": edited}, {"b1": BASE_BODY})
    update = only(plan, ActionKind.UPDATE_NOTE, "b")
    assert update.payload["note_id"] == "b1"
    assert update.payload["body"] == edited
    assert update.payload["replaced"] == BASE_BODY
    assert update.reason.rule is Rule.NOTE_COPY
    assert summary(plan) == [("update_note", "b")]


def test_note_whitespace_rerendering_is_not_a_change() -> None:
    plan, *_ = _plan({"a1": BASE_BODY.replace("\n", "  \r\n")}, {"b1": BASE_BODY + "\n\n"})
    assert summary(plan) == []


def test_note_changed_identically_is_adopted_silently() -> None:
    edited = BASE_BODY + "\nSent it"
    plan, *_ = _plan({"a1": edited}, {"b1": edited})
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload["note"] == {
        "note_link_id": "n1",
        "a_note_id": "a1",
        "b_note_id": "b1",
        "body": edited,
    }
    assert plan.actions[0].reason.rule is Rule.NOTE_SAME_EDIT


A_EDIT = BASE_BODY.replace("Called Ann", "Called Ann (mobile)")
B_EDIT = BASE_BODY.replace("Follow up Friday", "Follow up Monday")
B_OVERLAP = BASE_BODY.replace("Called Ann", "Emailed Ann")


def test_note_clash_a_wins() -> None:
    plan, *_ = _plan({"a1": A_EDIT}, {"b1": B_EDIT}, note_conflict=NoteConflictPolicy.A_WINS)
    update = only(plan, ActionKind.UPDATE_NOTE, "b")
    assert (update.payload["body"], update.payload["replaced"]) == (A_EDIT, B_EDIT)
    assert update.reason.policy == "note_conflict=a_wins"
    assert summary(plan) == [("update_note", "b")]


def test_note_clash_b_wins() -> None:
    plan, *_ = _plan({"a1": A_EDIT}, {"b1": B_EDIT}, note_conflict=NoteConflictPolicy.B_WINS)
    assert only(plan, ActionKind.UPDATE_NOTE, "a").payload["body"] == B_EDIT
    assert summary(plan) == [("update_note", "a")]


def test_note_clash_merge_clean() -> None:
    plan, a, b, link_base = _plan(
        {"a1": A_EDIT}, {"b1": B_EDIT}, note_conflict=NoteConflictPolicy.MERGE
    )
    merged = "Called Ann (mobile)\nShe wants a quote\nFollow up Monday"
    assert summary(plan) == [("update_note", "a"), ("update_note", "b")]
    assert {a.payload["body"] for a in plan.actions} == {merged}
    assert plan.actions[0].reason.compared["merged"] == note_hash(merged)
    final_a, final_b, final_base = execute(plan, a, b, link_base)
    assert final_a.notes is not None
    assert final_b.notes is not None
    assert final_base is not None
    assert final_a.notes["a1"].body == final_b.notes["b1"].body == final_base.notes[0].body


def test_note_clash_merge_overlapping_conflicts() -> None:
    plan, *_ = _plan({"a1": A_EDIT}, {"b1": B_OVERLAP}, note_conflict=NoteConflictPolicy.MERGE)
    assert summary(plan) == []
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.scope) == (ConflictKind.NOTE, "n1")
    assert (conflict.base_value, conflict.a_value, conflict.b_value) == (
        BASE_BODY,
        A_EDIT,
        B_OVERLAP,
    )
    assert conflict.reason.detail == "edits overlap"


def test_note_clash_keep_both() -> None:
    plan, a, b, link_base = _plan(
        {"a1": A_EDIT}, {"b1": B_EDIT}, note_conflict=NoteConflictPolicy.KEEP_BOTH
    )
    to_b = only(plan, ActionKind.CREATE_NOTE, "b")
    to_a = only(plan, ActionKind.CREATE_NOTE, "a")
    # A's version is copied to B and takes over the existing note link...
    assert to_b.payload == {"body": A_EDIT, "note_link_id": "n1", "source_note_id": "a1"}
    # ...B's version is copied to A under a new note link paired with B's original.
    assert to_a.payload == {"body": B_EDIT, "note_link_id": None, "source_note_id": "b1"}
    assert not [x for x in plan.actions if x.kind is ActionKind.UPDATE_NOTE]
    final_a, final_b, final_base = execute(plan, a, b, link_base)
    assert final_a.notes is not None
    assert final_b.notes is not None
    assert final_base is not None
    assert sorted(n.body for n in final_a.notes.values()) == sorted([A_EDIT, B_EDIT])
    assert sorted(n.body for n in final_b.notes.values()) == sorted([A_EDIT, B_EDIT])
    assert len(final_base.notes) == 2


def test_note_clash_manual() -> None:
    plan, *_ = _plan({"a1": A_EDIT}, {"b1": B_EDIT})
    assert summary(plan) == []
    assert [(c.kind, c.scope) for c in plan.conflicts] == [(ConflictKind.NOTE, "n1")]


def test_note_deleted_one_side_unchanged_other_is_deleted() -> None:
    plan, *_ = _plan({}, {"b1": BASE_BODY})
    delete = only(plan, ActionKind.DELETE_NOTE, "b")
    assert delete.payload == {"note_id": "b1", "note_link_id": "n1", "replaced": BASE_BODY}
    assert delete.reason.rule is Rule.NOTE_DELETE
    assert summary(plan) == [("delete_note", "b")]


def test_note_deleted_vs_edited_edit_wins_recreates() -> None:
    plan, a, b, link_base = _plan({"a1": A_EDIT}, {})
    create = only(plan, ActionKind.CREATE_NOTE, "b")
    assert create.payload == {"body": A_EDIT, "note_link_id": "n1", "source_note_id": "a1"}
    assert create.reason.policy == "note_delete_vs_edit=edit_wins"
    _, final_b, final_base = execute(plan, a, b, link_base)
    assert final_base is not None
    assert final_b.notes is not None
    (link,) = final_base.notes
    assert link.note_link_id == "n1"
    assert link.a_note_id == "a1"
    assert final_b.notes[link.b_note_id].body == A_EDIT


def test_note_deleted_vs_edited_delete_wins() -> None:
    plan, *_ = _plan({"a1": A_EDIT}, {}, note_delete_vs_edit=NoteDeleteEditPolicy.DELETE_WINS)
    delete = only(plan, ActionKind.DELETE_NOTE, "a")
    assert delete.payload["replaced"] == A_EDIT  # the lost edit stays recoverable


def test_note_deleted_vs_edited_manual() -> None:
    plan, *_ = _plan({}, {"b1": B_EDIT}, note_delete_vs_edit=NoteDeleteEditPolicy.MANUAL)
    assert summary(plan) == []
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.a_value, conflict.b_value) == (
        ConflictKind.NOTE_DELETE,
        None,
        B_EDIT,
    )


def test_note_deleted_on_both_sides_drops_the_note_link() -> None:
    plan, *_ = _plan({}, {})
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload == {"note_dropped": "n1"}


def test_new_notes_matched_by_hash_not_duplicated() -> None:
    plan, *_ = _plan(
        {"a1": BASE_BODY, "a2": "Meeting at 3", "a3": "Meeting at 3"},
        {"b1": BASE_BODY, "b7": "Meeting at 3  \r\n"},
    )
    adopt = only(plan, ActionKind.ADOPT_BASE)
    assert adopt.reason.rule is Rule.NOTE_MATCH
    assert adopt.payload["note"] == {
        "note_link_id": None,
        "a_note_id": "a2",
        "b_note_id": "b7",
        "body": "Meeting at 3",
    }
    # The second "Meeting at 3" on A is a note of its own: it is created once on B.
    create = only(plan, ActionKind.CREATE_NOTE, "b")
    assert create.payload["source_note_id"] == "a3"


def test_new_link_starts_with_the_notes_both_sides_have_in_its_initial_base() -> None:
    a = contact("ca", note_bodies={"a1": "Meeting at 3", "a2": "Only on A"})
    b = contact("cb", note_bodies={"b1": "Meeting at 3  \r\n"})
    plan = plan_link(view(a, b, None), PairPolicy(), (), NOW)
    # One ADOPT_BASE records the fields, tags and matched notes; no NOTE_MATCH adoption.
    assert summary(plan) == [("adopt_base", None), ("create_note", "b")]
    initial = plan.actions[0]
    assert initial.payload["notes"] == [
        {"a_note_id": "a1", "b_note_id": "b1", "body": "Meeting at 3"}
    ]
    assert initial.reason.rule is Rule.INITIAL_BASE
    assert initial.reason.compared["notes"] is not None
    assert plan.actions[1].payload["source_note_id"] == "a2"
    final_a, final_b, final_base = execute(plan, a, b, None)
    assert final_base is not None
    matched = next(nl for nl in final_base.notes if nl.a_note_id == "a1")
    assert (matched.note_link_id, matched.b_note_id, matched.body) == (
        new_note_link_id("L1", "a1", "b1"),
        "b1",
        "Meeting at 3",
    )
    assert len(final_base.notes) == 2
    assert summary(plan_link(view(final_a, final_b, final_base), PairPolicy(), (), NOW)) == []


def test_new_note_created_on_other_side() -> None:
    plan, *_ = _plan({"a1": BASE_BODY}, {"b1": BASE_BODY, "b2": "Left a voicemail"})
    create = only(plan, ActionKind.CREATE_NOTE, "a")
    assert create.payload == {
        "body": "Left a voicemail",
        "note_link_id": None,
        "source_note_id": "b2",
    }
    assert create.reason.rule is Rule.NOTE_NEW
    assert create.source_side == "b"


def test_stale_notes_leave_notes_alone() -> None:
    a = contact("ca", first_name="Ann", tag_names=["vip"], note_bodies=None)
    b = contact("cb", first_name="Anne", tag_names=[], note_bodies={"b1": "edited", "b2": "new"})
    link_base = base(
        first_name="Ann", tag_names=["vip"], note_links=[note_link("n1", "a1", "b1", BASE_BODY)]
    )
    plan = plan_link(view(a, b, link_base), PairPolicy(), (), NOW)
    assert summary(plan) == [("update_fields", "a"), ("remove_tags", "a")]
    assert not plan.conflicts
