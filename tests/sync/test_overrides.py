"""Overrides: pins per scope beat policy, the narrowest scope wins, expired ones are ignored."""

from __future__ import annotations

from datetime import timedelta

from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    Absence,
    ActionKind,
    ConflictKind,
    ContactState,
    LinkBase,
    LinkPlan,
    OpenConflictRef,
    Override,
    OverrideScope,
    PairPolicy,
    Rule,
)
from reconciler.sync.normalise import note_hash, value_hash
from tests.sync.builders import NOW, base, contact, note_link, only, summary, view
from tests.sync.helpers import execute

POLICY = PairPolicy()
LINK_BASE = base(
    first_name="Ann",
    email="ann@x.io",
    tag_names=["vip"],
    note_links=[note_link("n1", "a1", "b1", "base text")],
)


def _sides(
    *,
    a_first: str = "Ann",
    b_first: str = "Ann",
    a_email: str = "ann@x.io",
    b_email: str = "ann@x.io",
    a_tags: tuple[str, ...] = ("vip",),
    b_tags: tuple[str, ...] = ("vip",),
    a_notes: dict[str, str] | None = None,
    b_notes: dict[str, str] | None = None,
) -> tuple[ContactState, ContactState]:
    return (
        contact(
            "ca",
            first_name=a_first,
            email=a_email,
            tag_names=a_tags,
            note_bodies=a_notes or {"a1": "base text"},
        ),
        contact(
            "cb",
            first_name=b_first,
            email=b_email,
            tag_names=b_tags,
            note_bodies=b_notes or {"b1": "base text"},
        ),
    )


def _plan(
    sides: tuple[ContactState, ContactState],
    overrides: list[Override],
    link_base: LinkBase = LINK_BASE,
    open_conflicts: tuple[OpenConflictRef, ...] = (),
) -> LinkPlan:
    a, b = sides
    return plan_link(view(a, b, link_base, open_conflicts=open_conflicts), POLICY, overrides, NOW)


def test_field_pin_settles_a_clash_and_records_the_replaced_value() -> None:
    pin = Override("o-email", OverrideScope.FIELD, pin="a", link_id="L1", field_name="email")
    plan = _plan(_sides(a_email="a@x.io", b_email="b@x.io"), [pin])
    update = only(plan, ActionKind.UPDATE_FIELDS, "b")
    assert update.payload["changes"] == {"email": "a@x.io"}
    assert update.payload["replaced"] == {"email": "b@x.io"}  # recoverable from the journal
    assert (update.reason.rule, update.reason.override_id) == (Rule.OVERRIDE_PIN, "o-email")
    assert update.reason.compared["email.replaced"] == value_hash("b@x.io")
    assert plan.conflicts == ()


def test_field_pin_reverts_an_edit_on_the_unpinned_side() -> None:
    pin = Override("o1", OverrideScope.FIELD, pin="a", link_id="L1", field_name="first_name")
    plan = _plan(_sides(b_first="Bob"), [pin])
    assert only(plan, ActionKind.UPDATE_FIELDS, "b").payload["changes"] == {"first_name": "Ann"}


def test_tag_pin_decides_that_tag_only() -> None:
    pin = Override("o-tag", OverrideScope.TAG, pin="b", tag_key="Lead")
    plan = _plan(_sides(a_tags=("vip", "lead", "hot")), [pin])
    removed = only(plan, ActionKind.REMOVE_TAGS, "a")
    assert removed.payload["tags"] == ["lead"]
    assert removed.reason.override_id == "o-tag"
    assert only(plan, ActionKind.ADD_TAGS, "b").payload["tags"] == ["hot"]  # ordinary merge


def test_link_specific_tag_pin_beats_a_pair_wide_one() -> None:
    overrides = [
        Override("o-all", OverrideScope.TAG, pin="b", tag_key="lead"),
        Override("o-this", OverrideScope.TAG, pin="a", tag_key="lead", link_id="L1"),
    ]
    plan = _plan(_sides(a_tags=("vip", "lead")), overrides)
    add = only(plan, ActionKind.ADD_TAGS, "b")
    assert add.reason.override_id == "o-this"


def test_note_pin_settles_a_clash() -> None:
    pin = Override("o-note", OverrideScope.NOTE, pin="b", link_id="L1", note_link_id="n1")
    plan = _plan(_sides(a_notes={"a1": "from A"}, b_notes={"b1": "from B"}), [pin])
    update = only(plan, ActionKind.UPDATE_NOTE, "a")
    assert (update.payload["body"], update.payload["replaced"]) == ("from B", "from A")
    assert update.reason.compared["replaced"] == note_hash("from A")
    assert plan.conflicts == ()


def test_contact_pin_makes_one_side_authoritative_for_everything() -> None:
    pin = Override("o-contact", OverrideScope.CONTACT, pin="b", link_id="L1")
    sides = _sides(
        a_first="Anne",
        a_tags=("vip", "new"),
        a_notes={"a1": "edited on A", "a2": "only on A"},
        b_notes={"b1": "base text", "b2": "only on B"},
    )
    plan = _plan(sides, [pin])
    assert {(x.kind, x.side) for x in plan.actions} == {
        (ActionKind.UPDATE_FIELDS, "a"),
        (ActionKind.REMOVE_TAGS, "a"),
        (ActionKind.UPDATE_NOTE, "a"),
        (ActionKind.DELETE_NOTE, "a"),
        (ActionKind.CREATE_NOTE, "a"),
    }
    assert all(
        x.reason.override_id == "o-contact"
        for x in plan.actions
        if x.kind is not ActionKind.CREATE_NOTE
    )
    deleted = only(plan, ActionKind.DELETE_NOTE)
    assert deleted.payload == {"note_id": "a2", "note_link_id": None, "replaced": "only on A"}
    final_a, final_b, final_base = execute(plan, *sides, LINK_BASE)
    assert final_base is not None
    assert plan_link(view(final_a, final_b, final_base), POLICY, [pin], NOW).actions == ()


def test_pair_pin_applies_to_every_link() -> None:
    pin = Override("o-pair", OverrideScope.PAIR, pin="a")
    plan = _plan(_sides(b_first="Bob", b_tags=()), [pin])
    assert summary(plan) == [("update_fields", "b"), ("add_tags", "b")]


def test_narrowest_scope_wins() -> None:
    overrides = [
        Override("o-pair", OverrideScope.PAIR, pin="a"),
        Override("o-field", OverrideScope.FIELD, pin="b", link_id="L1", field_name="email"),
    ]
    plan = _plan(_sides(a_first="Anne", a_email="a@x.io", b_email="b@x.io"), overrides)
    to_a = only(plan, ActionKind.UPDATE_FIELDS, "a")
    to_b = only(plan, ActionKind.UPDATE_FIELDS, "b")
    assert (to_a.payload["changes"], to_a.reason.override_id) == ({"email": "b@x.io"}, "o-field")
    assert (to_b.payload["changes"], to_b.reason.override_id) == ({"first_name": "Anne"}, "o-pair")


def test_expired_override_is_ignored() -> None:
    expired = Override(
        "o1", OverrideScope.FIELD, pin="a", link_id="L1", field_name="email", expires_at=NOW
    )
    plan = _plan(_sides(a_email="a@x.io", b_email="b@x.io"), [expired])
    assert plan.actions == ()
    assert [c.kind for c in plan.conflicts] == [ConflictKind.FIELD]
    active = Override(
        "o1",
        OverrideScope.FIELD,
        pin="a",
        link_id="L1",
        field_name="email",
        expires_at=NOW + timedelta(seconds=1),
    )
    assert _plan(_sides(a_email="a@x.io", b_email="b@x.io"), [active]).conflicts == ()


def test_pin_on_another_link_does_not_apply() -> None:
    other = Override("o1", OverrideScope.CONTACT, pin="a", link_id="L2")
    plan = _plan(_sides(a_email="a@x.io", b_email="b@x.io"), [other])
    assert plan.actions == ()
    assert len(plan.conflicts) == 1


def test_pin_settles_an_open_conflict() -> None:
    pin = Override("o1", OverrideScope.FIELD, pin="b", link_id="L1", field_name="email")
    ref = OpenConflictRef("C1", ConflictKind.FIELD, "email")
    plan = _plan(_sides(a_email="a@x.io", b_email="b@x.io"), [pin], open_conflicts=(ref,))
    assert only(plan, ActionKind.UPDATE_FIELDS, "a").payload["changes"] == {"email": "b@x.io"}
    assert plan.closed_conflicts == ("C1",)


def test_contact_pin_on_the_surviving_side_recreates_a_deleted_contact() -> None:
    pin = Override("o1", OverrideScope.CONTACT, pin="b", link_id="L1")
    survivor = contact("cb", first_name="Annie", note_bodies={"b1": "base text"})
    plan = plan_link(view(Absence.DELETED, survivor, LINK_BASE), POLICY, [pin], NOW)
    assert summary(plan) == [("create_contact", "a"), ("create_note", "a")]
    assert plan.actions[0].reason.override_id == "o1"


def test_contact_pin_on_the_deleted_side_applies_the_delete_policy_despite_edits() -> None:
    pin = Override("o1", OverrideScope.CONTACT, pin="a", link_id="L1")
    survivor = contact("cb", first_name="Annie", note_bodies={"b1": "base text"})
    plan = plan_link(view(Absence.DELETED, survivor, LINK_BASE), POLICY, [pin], NOW)
    assert summary(plan) == [("archive_contact", "b")]
    assert plan.conflicts == ()
