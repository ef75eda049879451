"""Open conflicts hold their scope; they close when the sides agree; resolutions settle them."""

from __future__ import annotations

from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    Absence,
    ActionKind,
    ConflictKind,
    ContactState,
    LinkBase,
    LinkPlan,
    OpenConflictRef,
    PairPolicy,
    Resolution,
    ResolutionChoice,
    Rule,
    UnlinkedContact,
)
from reconciler.sync.plan import build_plan
from tests.sync.builders import NOW, base, contact, note_link, only, summary, view
from tests.sync.helpers import execute

POLICY = PairPolicy()


def _ref(
    kind: ConflictKind,
    scope: str,
    choice: ResolutionChoice | None = None,
    value: object = None,
    fingerprint: str | None = None,
) -> OpenConflictRef:
    resolution = None if choice is None else Resolution(choice, value)
    return OpenConflictRef("C1", kind, scope, resolution, fingerprint)


def _field_plan(
    a_first: str | None, b_first: str | None, ref: OpenConflictRef, *, a_email: str = "ann@x.io"
) -> tuple[LinkPlan, ContactState, ContactState, LinkBase]:
    a = contact("ca", first_name=a_first, email=a_email)
    b = contact("cb", first_name=b_first, email="ann@x.io")
    link_base = base(first_name="Ann", email="ann@x.io")
    return plan_link(view(a, b, link_base, open_conflicts=[ref]), POLICY, (), NOW), a, b, link_base


def test_open_conflict_scope_is_untouched_and_refreshed_while_other_scopes_proceed() -> None:
    plan, *_ = _field_plan("Anne", "Ann", _ref(ConflictKind.FIELD, "first_name"), a_email="a@x.io")
    # first_name changed on A only now, which would normally be copied: the open conflict wins.
    update = only(plan, ActionKind.UPDATE_FIELDS, "b")
    assert update.payload["changes"] == {"email": "a@x.io"}
    (refreshed,) = plan.conflicts
    assert (refreshed.kind, refreshed.scope) == (ConflictKind.FIELD, "first_name")
    assert (refreshed.a_value, refreshed.b_value) == ("Anne", "Ann")
    assert plan.closed_conflicts == ()


def test_open_conflict_is_not_refreshed_when_its_values_did_not_change() -> None:
    plan, *_ = _field_plan("Anne", "Annie", _ref(ConflictKind.FIELD, "first_name"))
    spec = plan.conflicts[0]
    again, *_ = _field_plan(
        "Anne", "Annie", _ref(ConflictKind.FIELD, "first_name", fingerprint=spec.fingerprint())
    )
    assert again.conflicts == ()
    assert again.actions == ()


def test_conflict_auto_closes_when_sides_agree() -> None:
    plan, *_ = _field_plan("Anne", "Anne", _ref(ConflictKind.FIELD, "first_name"))
    assert plan.closed_conflicts == ("C1",)
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload == {"fields": {"first_name": "Anne"}}


def test_note_conflict_auto_closes_when_sides_agree() -> None:
    a = contact("ca", note_bodies={"a1": "same now"})
    b = contact("cb", note_bodies={"b1": "same now"})
    link_base = base(note_links=[note_link("n1", "a1", "b1", "old")])
    ref = _ref(ConflictKind.NOTE, "n1")
    plan = plan_link(view(a, b, link_base, open_conflicts=[ref]), POLICY, (), NOW)
    assert plan.closed_conflicts == ("C1",)
    assert only(plan, ActionKind.ADOPT_BASE).payload["note"]["body"] == "same now"  # type: ignore[index]


def test_tags_conflict_auto_closes_when_sides_agree() -> None:
    a, b = contact("ca", tag_names=["vip", "x"]), contact("cb", tag_names=["VIP", "x"])
    ref = _ref(ConflictKind.TAGS_INITIAL, "tags")
    plan = plan_link(view(a, b, base(tag_names=["vip"]), open_conflicts=[ref]), POLICY, (), NOW)
    assert plan.closed_conflicts == ("C1",)
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload == {"tags": {"x": "x"}}


# ---- resolutions: fields


def test_field_resolution_a_writes_a_to_b_and_closes() -> None:
    plan, *_ = _field_plan(
        "Anne", "Annie", _ref(ConflictKind.FIELD, "first_name", ResolutionChoice.A)
    )
    update = only(plan, ActionKind.UPDATE_FIELDS, "b")
    assert update.payload["changes"] == {"first_name": "Anne"}
    assert (update.reason.rule, update.reason.conflict_id) == (Rule.RESOLUTION, "C1")
    assert plan.closed_conflicts == ("C1",)
    assert plan.conflicts == ()


def test_field_resolution_b() -> None:
    plan, *_ = _field_plan(
        "Anne", "Annie", _ref(ConflictKind.FIELD, "first_name", ResolutionChoice.B)
    )
    assert only(plan, ActionKind.UPDATE_FIELDS, "a").payload["changes"] == {"first_name": "Annie"}


def test_field_resolution_base_writes_both_sides_and_converges() -> None:
    ref = _ref(ConflictKind.FIELD, "first_name", ResolutionChoice.BASE)
    plan, a, b, link_base = _field_plan("Anne", "Annie", ref)
    assert summary(plan) == [("update_fields", "a"), ("update_fields", "b")]
    final_a, final_b, final_base = execute(plan, a, b, link_base)
    assert final_base is not None
    assert final_a.fields["first_name"] == final_b.fields["first_name"] == "Ann"
    assert final_base.fields["first_name"] == "Ann"


def test_field_resolution_custom_is_normalised() -> None:
    ref = _ref(ConflictKind.FIELD, "email", ResolutionChoice.CUSTOM, " Ann@Example.COM ")
    a = contact("ca", email="a@x.io")
    b = contact("cb", email="b@x.io")
    plan = plan_link(view(a, b, base(email="ann@x.io"), open_conflicts=[ref]), POLICY, (), NOW)
    assert {x.payload["changes"]["email"] for x in plan.actions} == {"ann@example.com"}  # type: ignore[index]


def test_invalid_resolution_is_rejected_and_the_conflict_stays_open() -> None:
    for ref in (
        _ref(ConflictKind.FIELD, "phone", ResolutionChoice.CUSTOM, 42),
        _ref(ConflictKind.FIELD, "phone", ResolutionChoice.CUSTOM, "call me"),
    ):
        a, b = contact("ca", phone="+15550100"), contact("cb", phone="+15550199")
        plan = plan_link(view(a, b, base(phone="+15550111"), open_conflicts=[ref]), POLICY, (), NOW)
        assert plan.actions == ()
        assert plan.closed_conflicts == ()
        assert [r.conflict_id for r in plan.rejected_resolutions] == ["C1"]


def test_field_resolution_base_without_a_base_value_is_rejected() -> None:
    ref = _ref(ConflictKind.FIELD, "first_name", ResolutionChoice.BASE)
    a, b = contact("ca", first_name="Anne"), contact("cb", first_name="Annie")
    plan = plan_link(view(a, b, None, open_conflicts=[ref]), POLICY, (), NOW)
    assert "never had an agreed value" in plan.rejected_resolutions[0].message
    assert not [x for x in plan.actions if x.writes]


# ---- resolutions: notes

NOTE_BASE = base(note_links=[note_link("n1", "a1", "b1", "base text")])


def _note_plan(
    a_body: str | None, b_body: str | None, ref: OpenConflictRef
) -> tuple[LinkPlan, ContactState, ContactState]:
    a = contact("ca", note_bodies={} if a_body is None else {"a1": a_body})
    b = contact("cb", note_bodies={} if b_body is None else {"b1": b_body})
    return plan_link(view(a, b, NOTE_BASE, open_conflicts=[ref]), POLICY, (), NOW), a, b


def test_note_resolution_each_choice_converges() -> None:
    for choice, value, expected in (
        (ResolutionChoice.A, None, "from A"),
        (ResolutionChoice.B, None, "from B"),
        (ResolutionChoice.BASE, None, "base text"),
        (ResolutionChoice.CUSTOM, "typed by a person", "typed by a person"),
    ):
        plan, a, b = _note_plan("from A", "from B", _ref(ConflictKind.NOTE, "n1", choice, value))
        assert plan.closed_conflicts == ("C1",)
        assert all(x.reason.rule is Rule.RESOLUTION for x in plan.actions)
        final_a, final_b, final_base = execute(plan, a, b, NOTE_BASE)
        assert final_a.notes is not None
        assert final_b.notes is not None
        assert final_base is not None
        assert final_a.notes["a1"].body == final_b.notes["b1"].body == expected
        assert final_base.notes[0].body == expected


def test_note_delete_resolution_for_the_deleted_side_deletes_the_survivor() -> None:
    plan, *_ = _note_plan(None, "edited", _ref(ConflictKind.NOTE_DELETE, "n1", ResolutionChoice.A))
    delete = only(plan, ActionKind.DELETE_NOTE, "b")
    assert delete.payload["replaced"] == "edited"


def test_note_delete_resolution_for_the_edit_recreates_it() -> None:
    plan, a, b = _note_plan(
        None, "edited", _ref(ConflictKind.NOTE_DELETE, "n1", ResolutionChoice.B)
    )
    create = only(plan, ActionKind.CREATE_NOTE, "a")
    assert create.payload == {"body": "edited", "note_link_id": "n1", "source_note_id": "b1"}
    final_a, _, final_base = execute(plan, a, b, NOTE_BASE)
    assert final_base is not None
    assert final_a.notes is not None
    assert [n.body for n in final_a.notes.values()] == ["edited"]
    assert final_base.notes[0].b_note_id == "b1"


def test_note_delete_resolution_custom_writes_both_sides() -> None:
    ref = _ref(ConflictKind.NOTE_DELETE, "n1", ResolutionChoice.CUSTOM, "agreed text")
    plan, a, b = _note_plan(None, "edited", ref)
    assert sorted(summary(plan), key=str) == [("create_note", "a"), ("update_note", "b")]
    final_a, final_b, final_base = execute(plan, a, b, NOTE_BASE)
    assert final_base is not None
    assert final_a.notes is not None
    assert final_b.notes is not None
    assert [n.body for n in final_a.notes.values()] == ["agreed text"]
    assert final_b.notes["b1"].body == "agreed text"
    assert final_base.notes[0].body == "agreed text"


# ---- resolutions: tags


def test_tags_resolution_each_choice() -> None:
    a, b = contact("ca", tag_names=["vip", "a-only"]), contact("cb", tag_names=["vip", "b-only"])
    link_base = base(tag_names=["vip"])  # a new link's tag base under manual: the shared tags
    for choice, value, expected in (
        (ResolutionChoice.A, None, {"vip", "a-only"}),
        (ResolutionChoice.B, None, {"vip", "b-only"}),
        (ResolutionChoice.BASE, None, {"vip"}),
        (ResolutionChoice.CUSTOM, ["VIP", "brand new"], {"vip", "brand new"}),
    ):
        ref = _ref(ConflictKind.TAGS_INITIAL, "tags", choice, value)
        plan = plan_link(view(a, b, link_base, open_conflicts=[ref]), POLICY, (), NOW)
        assert plan.closed_conflicts == ("C1",)
        final_a, final_b, final_base = execute(plan, a, b, link_base)
        assert final_base is not None
        assert set(final_a.tags) == set(final_b.tags) == expected


def test_tags_resolution_with_a_malformed_custom_value_is_rejected() -> None:
    a, b = contact("ca", tag_names=["x"]), contact("cb", tag_names=["y"])
    ref = _ref(ConflictKind.TAGS_INITIAL, "tags", ResolutionChoice.CUSTOM, "x,y")
    plan = plan_link(view(a, b, base(), open_conflicts=[ref]), POLICY, (), NOW)
    assert plan.actions == ()
    assert plan.rejected_resolutions[0].conflict_id == "C1"


# ---- resolutions: contacts

CANDIDATES = [
    UnlinkedContact("a", contact("a1", email="team@x.io", first_name="Ann")),
    UnlinkedContact("a", contact("a2", email="team@x.io", first_name="Bob")),
    UnlinkedContact("b", contact("b1", email="team@x.io", first_name="Bob")),
]


def test_contact_match_resolution_a_links_the_chosen_candidate() -> None:
    ref = _ref(ConflictKind.CONTACT_MATCH, "team@x.io", ResolutionChoice.A, "a2")
    plan = build_plan([], CANDIDATES, POLICY, (), NOW, open_match_conflicts=[ref])
    links = [x for x in plan.actions if x.kind is ActionKind.LINK_CONTACTS]
    assert [(x.payload["a_id"], x.payload["b_id"]) for x in links] == [("a2", "b1")]
    assert links[0].reason.conflict_id == "C1"
    assert plan.closed_conflicts == ("C1",)
    # The candidate not chosen is now an ordinary unmatched contact.
    creates = [x for x in plan.actions if x.kind is ActionKind.CREATE_CONTACT]
    assert [x.source_id for x in creates] == ["a1"]


def test_contact_match_resolution_custom_pair() -> None:
    ref = _ref(
        ConflictKind.CONTACT_MATCH,
        "team@x.io",
        ResolutionChoice.CUSTOM,
        {"a_id": "a1", "b_id": "b1"},
    )
    plan = build_plan([], CANDIDATES, POLICY, (), NOW, open_match_conflicts=[ref])
    link = only(plan.links[1], ActionKind.LINK_CONTACTS)
    assert (link.payload["a_id"], link.payload["b_id"]) == ("a1", "b1")


def test_contact_match_resolution_base_is_rejected_and_nothing_is_created() -> None:
    ref = _ref(ConflictKind.CONTACT_MATCH, "team@x.io", ResolutionChoice.BASE)
    plan = build_plan([], CANDIDATES, POLICY, (), NOW, open_match_conflicts=[ref])
    assert plan.actions == ()
    assert [r.conflict_id for r in plan.rejected_resolutions] == ["C1"]
    assert plan.closed_conflicts == ()


def test_contact_match_conflict_closes_when_no_longer_ambiguous() -> None:
    ref = _ref(ConflictKind.CONTACT_MATCH, "team@x.io")
    plan = build_plan(
        [], [CANDIDATES[0], CANDIDATES[2]], POLICY, (), NOW, open_match_conflicts=[ref]
    )
    assert plan.closed_conflicts == ("C1",)
    assert plan.actions[0].kind is ActionKind.LINK_CONTACTS


DELETE_BASE = base(first_name="Ann", note_links=[note_link("n1", "a1", "b1", "hi")])


def test_contact_delete_resolution_for_the_deleted_side_applies_the_delete_policy() -> None:
    survivor = contact("cb", first_name="Annie", note_bodies={"b1": "hi"})
    ref = _ref(ConflictKind.CONTACT_DELETE, "contact", ResolutionChoice.A)
    plan = plan_link(
        view(Absence.DELETED, survivor, DELETE_BASE, open_conflicts=[ref]), POLICY, (), NOW
    )
    assert summary(plan) == [("archive_contact", "b")]
    assert plan.closed_conflicts == ("C1",)


def test_contact_delete_resolution_for_the_survivor_recreates_the_contact() -> None:
    survivor = contact(
        "cb", first_name="Annie", tag_names=["vip"], note_bodies={"b1": "hi", "b2": "new"}
    )
    ref = _ref(ConflictKind.CONTACT_DELETE, "contact", ResolutionChoice.B)
    plan = plan_link(
        view(Absence.DELETED, survivor, DELETE_BASE, open_conflicts=[ref]), POLICY, (), NOW
    )
    assert summary(plan) == [("create_contact", "a"), ("create_note", "a"), ("create_note", "a")]
    create = plan.actions[0]
    assert create.link_id == "L1"
    assert create.payload["relink"] is True
    assert create.payload["fields"]["first_name"] == "Annie"  # type: ignore[index]
    assert all(
        x.payload["link_ref"] == "recreate:L1" and x.contact_id is None for x in plan.actions
    )
    assert plan.closed_conflicts == ("C1",)


def test_contact_delete_resolution_base_is_rejected() -> None:
    survivor = contact("cb", first_name="Annie")
    ref = _ref(ConflictKind.CONTACT_DELETE, "contact", ResolutionChoice.BASE)
    plan = plan_link(
        view(Absence.DELETED, survivor, DELETE_BASE, open_conflicts=[ref]), POLICY, (), NOW
    )
    assert plan.actions == ()
    assert plan.rejected_resolutions[0].conflict_id == "C1"
