"""Core fields, field by field: copy, adopt, clash policies, and the rules without a base."""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    FieldConflictPolicy,
    LinkPlan,
    PairPolicy,
    Rule,
)
from tests.sync.builders import NOW, base, contact, fields, only, summary, view

AGREED = {"first_name": "Ann", "last_name": "Lee", "email": "ann@x.io", "phone": "+15550100"}


def _plan(
    a_values: dict[str, str | None],
    b_values: dict[str, str | None],
    *,
    with_base: bool = True,
    a_updated: datetime | None = None,
    b_updated: datetime | None = None,
    **policy: object,
) -> LinkPlan:
    a = contact("ca", updated=a_updated, field_values=fields(**{**AGREED, **a_values}))
    b = contact("cb", updated=b_updated, field_values=fields(**{**AGREED, **b_values}))
    link_base = base(field_values=fields(**AGREED)) if with_base else None
    return plan_link(view(a, b, link_base), PairPolicy(**policy), (), NOW)  # type: ignore[arg-type]


def test_field_changed_on_one_side_is_copied() -> None:
    plan = _plan({"first_name": "Anne", "email": "anne@x.io"}, {"phone": "+15550199"})
    to_b = only(plan, ActionKind.UPDATE_FIELDS, "b")
    to_a = only(plan, ActionKind.UPDATE_FIELDS, "a")
    # One action per side carrying every field copied to it.
    assert to_b.payload["changes"] == {"first_name": "Anne", "email": "anne@x.io"}
    assert to_b.payload["replaced"] == {"first_name": "Ann", "email": "ann@x.io"}
    assert to_a.payload["changes"] == {"phone": "+15550199"}
    assert to_b.reason.rule is Rule.FIELD_COPY
    assert to_b.source_side == "a"


def test_field_changed_identically_is_adopted_silently() -> None:
    plan = _plan({"last_name": "Li"}, {"last_name": "Li"})
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload == {"fields": {"last_name": "Li"}}
    assert plan.actions[0].reason.rule is Rule.FIELD_SAME_EDIT


def test_field_clash_a_wins() -> None:
    plan = _plan(
        {"first_name": "Anne"}, {"first_name": "Annie"}, field_conflict=FieldConflictPolicy.A_WINS
    )
    update = only(plan, ActionKind.UPDATE_FIELDS, "b")
    assert update.payload["changes"] == {"first_name": "Anne"}
    assert update.payload["replaced"] == {"first_name": "Annie"}
    assert update.reason.policy == "field_conflict=a_wins"


def test_field_clash_b_wins() -> None:
    plan = _plan(
        {"first_name": "Anne"}, {"first_name": "Annie"}, field_conflict=FieldConflictPolicy.B_WINS
    )
    assert only(plan, ActionKind.UPDATE_FIELDS, "a").payload["changes"] == {"first_name": "Annie"}


def test_field_clash_manual_opens_conflict() -> None:
    plan = _plan({"first_name": "Anne"}, {"first_name": "Annie"})
    assert summary(plan) == []
    (conflict,) = plan.conflicts
    assert (conflict.kind, conflict.scope, conflict.link_id) == (
        ConflictKind.FIELD,
        "first_name",
        "L1",
    )
    assert (conflict.base_value, conflict.a_value, conflict.b_value) == ("Ann", "Anne", "Annie")


def test_field_clash_newest_wins_records_both_timestamps() -> None:
    plan = _plan(
        {"first_name": "Anne"},
        {"first_name": "Annie"},
        field_conflict=FieldConflictPolicy.NEWEST_WINS,
        a_updated=NOW - timedelta(hours=1),
        b_updated=NOW,
    )
    update = only(plan, ActionKind.UPDATE_FIELDS, "a")
    assert update.payload["changes"] == {"first_name": "Annie"}
    assert update.reason.policy == "field_conflict=newest_wins"
    assert update.reason.compared["a_updated"] == (NOW - timedelta(hours=1)).isoformat()
    assert update.reason.compared["b_updated"] == NOW.isoformat()


def test_field_clash_newest_wins_tie_opens_conflict() -> None:
    plan = _plan(
        {"first_name": "Anne"},
        {"first_name": "Annie"},
        field_conflict=FieldConflictPolicy.NEWEST_WINS,
        a_updated=NOW,
        b_updated=NOW,
    )
    assert summary(plan) == []
    assert [c.kind for c in plan.conflicts] == [ConflictKind.FIELD]
    assert plan.conflicts[0].reason.compared["a_updated"] == NOW.isoformat()


def test_field_clash_is_never_settled_by_timestamps_by_default() -> None:
    plan = _plan(
        {"first_name": "Anne"},
        {"first_name": "Annie"},
        a_updated=NOW,
        b_updated=NOW - timedelta(days=1),
    )
    assert summary(plan) == []
    assert len(plan.conflicts) == 1


def test_field_initial_equal_values_are_adopted() -> None:
    plan = _plan({}, {}, with_base=False)
    assert summary(plan) == [("adopt_base", None)]
    assert plan.actions[0].payload["fields"] == AGREED


def test_field_initial_one_side_empty_takes_the_other() -> None:
    plan = _plan({"phone": None, "last_name": "Lee"}, {"last_name": None}, with_base=False)
    assert only(plan, ActionKind.UPDATE_FIELDS, "a").payload["changes"] == {"phone": "+15550100"}
    assert only(plan, ActionKind.UPDATE_FIELDS, "b").payload["changes"] == {"last_name": "Lee"}
    assert only(plan, ActionKind.UPDATE_FIELDS, "a").reason.rule is Rule.FIELD_INITIAL
    assert not plan.conflicts


def test_field_initial_both_set_differently_follows_field_policy() -> None:
    manual = _plan({"first_name": "Anne"}, {"first_name": "Annie"}, with_base=False)
    assert [(c.kind, c.base_value) for c in manual.conflicts] == [(ConflictKind.FIELD, None)]
    a_wins = _plan(
        {"first_name": "Anne"},
        {"first_name": "Annie"},
        with_base=False,
        field_conflict=FieldConflictPolicy.A_WINS,
    )
    assert only(a_wins, ActionKind.UPDATE_FIELDS, "b").payload["changes"] == {"first_name": "Anne"}
