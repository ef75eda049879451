"""Contacts: matching unlinked contacts, creation direction, deletions, UNKNOWN, exclusion."""

from __future__ import annotations

from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    Absence,
    ActionKind,
    ConflictKind,
    ContactState,
    CreateDirection,
    DeletePolicy,
    Override,
    OverrideScope,
    PairPolicy,
    Plan,
    Rule,
    UnlinkedContact,
)
from reconciler.sync.plan import build_plan
from tests.sync.builders import NOW, base, contact, note_link, summary, view

POLICY = PairPolicy()


def _unlinked(side: str, cid: str, **values: object) -> UnlinkedContact:
    return UnlinkedContact("a" if side == "a" else "b", contact(cid, **values))  # type: ignore[arg-type]


def test_contacts_matched_by_email_are_linked_and_merged_in_the_same_plan() -> None:
    plan = build_plan(
        [],
        [
            _unlinked("a", "a1", email="Ann@X.io ", first_name="Ann", tag_names=["vip"]),
            _unlinked("b", "b1", email="ann@x.io", first_name=None, tag_names=["lead"]),
        ],
        POLICY,
        (),
        NOW,
    )
    (link_plan,) = plan.links
    actions = link_plan.actions
    assert [a.kind for a in actions] == [
        ActionKind.LINK_CONTACTS,
        ActionKind.ADOPT_BASE,
        ActionKind.UPDATE_FIELDS,
        ActionKind.ADD_TAGS,
        ActionKind.ADD_TAGS,
    ]
    link = actions[0]
    assert link.payload == {"a_id": "a1", "b_id": "b1", "link_ref": "link:a1:b1", "via": "email"}
    assert link.reason.rule is Rule.CONTACT_MATCH
    # Every follow-up targets the new link through its ref (no link id exists yet).
    assert all(a.link_id is None and a.payload["link_ref"] == "link:a1:b1" for a in actions)
    assert actions[2].side == "b"
    assert actions[2].payload["changes"] == {"first_name": "Ann"}
    assert actions[2].contact_id == "b1"


def test_contacts_matched_by_phone_when_formats_differ() -> None:
    plan = build_plan(
        [],
        [
            _unlinked("a", "a1", phone="(555) 010-0200", email="ann@home.io"),
            _unlinked("b", "b1", phone="+1 555 010 0200", email="ann@work.io"),
        ],
        POLICY,
        (),
        NOW,
    )
    link = plan.actions[0]
    assert link.kind is ActionKind.LINK_CONTACTS
    assert link.payload["via"] == "phone"
    # The emails differ and neither is empty: the field-conflict policy (manual) decides.
    assert [c.scope for c in plan.conflicts] == ["email"]
    assert plan.conflicts[0].link_ref == "link:a1:b1"
    assert plan.conflicts[0].link_id is None


def test_ambiguous_email_match_opens_conflict_and_links_nothing() -> None:
    plan = build_plan(
        [],
        [
            _unlinked("a", "a1", email="team@x.io", first_name="Ann"),
            _unlinked("a", "a2", email="team@x.io", first_name="Bob"),
            _unlinked("b", "b1", email="team@x.io"),
        ],
        POLICY,
        (),
        NOW,
    )
    assert plan.actions == ()  # no link, and no creation of any candidate either
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.scope, conflict.link_id) == (
        ConflictKind.CONTACT_MATCH,
        "team@x.io",
        None,
    )
    assert [c["contact_id"] for c in conflict.a_value] == ["a1", "a2"]  # type: ignore[attr-defined]
    assert [c["contact_id"] for c in conflict.b_value] == ["b1"]  # type: ignore[attr-defined]


def test_ambiguous_email_group_is_not_retried_by_phone() -> None:
    plan = build_plan(
        [],
        [
            _unlinked("a", "a1", email="team@x.io", phone="+15550100"),
            _unlinked("a", "a2", email="team@x.io"),
            _unlinked("b", "b1", email="team@x.io", phone="+15550100"),
        ],
        POLICY,
        (),
        NOW,
    )
    assert plan.actions == ()
    assert [c.scope for c in plan.conflicts] == ["team@x.io"]


def _create_plan(direction: CreateDirection) -> Plan:
    return build_plan(
        [],
        [
            _unlinked("a", "a1", email="only-a@x.io", tag_names=["vip"], note_bodies={"n1": "hi"}),
            _unlinked("b", "b1", email="only-b@x.io"),
        ],
        PairPolicy(create=direction),
        (),
        NOW,
    )


def test_create_direction_both_creates_each_unmatched_contact_on_the_other_side() -> None:
    plan = _create_plan(CreateDirection.BOTH)
    creates = [a for a in plan.actions if a.kind is ActionKind.CREATE_CONTACT]
    assert [(a.side, a.source_side, a.source_id) for a in creates] == [
        ("b", "a", "a1"),
        ("a", "b", "b1"),
    ]
    assert creates[0].payload["fields"] == {
        "first_name": None,
        "last_name": None,
        "email": "only-a@x.io",
        "phone": None,
    }
    assert creates[0].payload["tags"] == ["vip"]
    assert creates[0].payload["tag_keys"] == ["vip"]


def test_created_contact_brings_its_notes_in_the_same_plan() -> None:
    plan = _create_plan(CreateDirection.A_TO_B)
    assert summary(plan.links[0]) == [("create_contact", "b"), ("create_note", "b")]
    create, note = plan.actions
    assert note.contact_id is None
    assert note.link_id is None
    assert note.payload["link_ref"] == create.payload["link_ref"] == "create:a:a1"
    assert note.payload["source_note_id"] == "n1"


def test_create_direction_a_to_b_and_none() -> None:
    assert [
        a.side
        for a in _create_plan(CreateDirection.A_TO_B).actions
        if a.kind is ActionKind.CREATE_CONTACT
    ] == ["b"]
    assert [
        a.side
        for a in _create_plan(CreateDirection.B_TO_A).actions
        if a.kind is ActionKind.CREATE_CONTACT
    ] == ["a"]
    assert _create_plan(CreateDirection.NONE).actions == ()


def test_retired_and_archived_contacts_are_never_recreated() -> None:
    plan = build_plan(
        [],
        [
            UnlinkedContact("a", contact("a1", email="x@x.io"), retired=True),
            _unlinked("b", "b1", email="y@x.io", tag_names=["Reconciler-Archived"]),
        ],
        POLICY,
        (),
        NOW,
    )
    assert plan.is_empty


LINK_BASE = base(
    first_name="Ann", tag_names=["vip"], note_links=[note_link("n1", "a1", "b1", "hi")]
)


def _survivor(**changes: object) -> ContactState:
    values: dict[str, object] = {
        "first_name": "Ann",
        "tag_names": ["vip"],
        "note_bodies": {"b1": "hi"},
    }
    values.update(changes)
    return contact("cb", **values)  # type: ignore[arg-type]


def test_contact_deleted_one_side_archive_tags_survivor_and_unlinks() -> None:
    plan = plan_link(view(Absence.DELETED, _survivor(), LINK_BASE), POLICY, (), NOW)
    (archive,) = plan.actions
    assert (archive.kind, archive.side, archive.contact_id) == (
        ActionKind.ARCHIVE_CONTACT,
        "b",
        "cb",
    )
    assert archive.payload == {
        "tag": "reconciler-archived",
        "tag_key": "reconciler-archived",
        "retire": {"side": "b", "contact_id": "cb"},
    }
    assert archive.reason.policy == "delete=archive"


def test_contact_deleted_one_side_delete_policy_deletes_survivor() -> None:
    plan = plan_link(
        view(Absence.DELETED, _survivor(), LINK_BASE),
        PairPolicy(delete=DeletePolicy.DELETE),
        (),
        NOW,
    )
    assert summary(plan) == [("delete_contact", "b")]


def test_contact_deleted_one_side_ignore_policy_only_unlinks() -> None:
    plan = plan_link(
        view(_survivor(note_bodies={"a1": "hi"}), Absence.DELETED, LINK_BASE),
        PairPolicy(delete=DeletePolicy.IGNORE),
        (),
        NOW,
    )
    (unlink,) = plan.actions
    assert unlink.kind is ActionKind.UNLINK_CONTACTS
    assert not unlink.writes
    assert unlink.payload == {"retire": {"side": "a", "contact_id": "cb"}}


def test_deletion_with_edited_survivor_opens_conflict_and_deletes_nothing() -> None:
    for edited in (
        _survivor(first_name="Annie"),
        _survivor(tag_names=["vip", "new"]),
        _survivor(note_bodies={"b1": "hi there"}),
        _survivor(note_bodies={"b1": "hi", "b2": "new note"}),
    ):
        plan = plan_link(view(Absence.DELETED, edited, LINK_BASE), POLICY, (), NOW)
        assert plan.actions == ()
        (conflict,) = plan.conflicts
        assert (conflict.kind, conflict.scope) == (ConflictKind.CONTACT_DELETE, "contact")
        assert conflict.a_value is None
        assert isinstance(conflict.b_value, dict)
        assert conflict.b_value["contact_id"] == "cb"


def test_deletion_judged_without_notes_when_notes_were_not_read() -> None:
    plan = plan_link(view(Absence.DELETED, _survivor(note_bodies=None), LINK_BASE), POLICY, (), NOW)
    assert summary(plan) == [("archive_contact", "b")]


def test_contact_deleted_on_both_sides_unlinks() -> None:
    plan = plan_link(view(Absence.DELETED, Absence.DELETED, LINK_BASE), POLICY, (), NOW)
    assert [(a.kind, a.reason.rule) for a in plan.actions] == [
        (ActionKind.UNLINK_CONTACTS, Rule.CONTACT_DELETED_BOTH)
    ]


def test_unknown_absence_plans_nothing() -> None:
    for a, b in ((Absence.UNKNOWN, _survivor(first_name="Bob")), (_survivor(), Absence.UNKNOWN)):
        plan = plan_link(view(a, b, LINK_BASE), POLICY, (), NOW)
        assert plan.actions == ()
        assert plan.conflicts == ()
        assert plan.closed_conflicts == ()


def test_excluded_link_plans_nothing() -> None:
    a = contact("ca", first_name="Changed", tag_names=["x"])
    excluded = plan_link(view(a, _survivor(), LINK_BASE, excluded=True), POLICY, (), NOW)
    assert excluded.actions == ()
    assert excluded.conflicts == ()
    override = Override("o1", OverrideScope.CONTACT, exclude=True, link_id="L1")
    by_override = plan_link(view(a, _survivor(), LINK_BASE), POLICY, [override], NOW)
    assert by_override.actions == ()
    assert by_override.conflicts == ()
