"""Tags: three-way set merge by key with a base; initial-tags policy without one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    LinkPlan,
    PairPolicy,
    Rule,
    TagsInitialPolicy,
)
from tests.sync.builders import NOW, base, contact, only, summary, view
from tests.sync.helpers import execute

POLICY = PairPolicy()


def _plan(
    a_tags: list[str], b_tags: list[str], base_tags: list[str] | None, **policy: object
) -> LinkPlan:
    a = contact("ca", tag_names=a_tags)
    b = contact("cb", tag_names=b_tags)
    link_base = None if base_tags is None else base(tag_names=base_tags)
    return plan_link(view(a, b, link_base), PairPolicy(**policy), (), NOW)  # type: ignore[arg-type]


def test_tags_added_on_both_sides_merge_without_conflict() -> None:
    plan = _plan(["vip", "lead"], ["vip", "hot"], ["vip"])
    assert not plan.conflicts
    assert only(plan, ActionKind.ADD_TAGS, "b").payload["tags"] == ["lead"]
    assert only(plan, ActionKind.ADD_TAGS, "a").payload["tags"] == ["hot"]
    assert {a.reason.rule for a in plan.actions} == {Rule.TAGS_MERGE}


def test_tag_removed_on_one_side_is_removed_on_the_other() -> None:
    plan = _plan(["vip"], ["vip", "old"], ["vip", "old"])
    assert summary(plan) == [("remove_tags", "b")]
    assert only(plan, ActionKind.REMOVE_TAGS).payload == {"tags": ["old"], "keys": ["old"]}


def test_tag_removed_on_one_side_and_added_on_other_never_conflicts() -> None:
    plan = _plan(["new"], ["old", "new2"], ["old"])
    assert not plan.conflicts
    assert only(plan, ActionKind.REMOVE_TAGS, "b").payload["tags"] == ["old"]
    assert only(plan, ActionKind.ADD_TAGS, "a").payload["tags"] == ["new2"]
    assert only(plan, ActionKind.ADD_TAGS, "b").payload["tags"] == ["new"]


def test_tag_added_on_both_sides_is_adopted_without_writes() -> None:
    plan = _plan(["vip", "Lead"], ["vip", "lead"], ["vip"])
    assert summary(plan) == [("adopt_base", None)]
    assert only(plan, ActionKind.ADOPT_BASE).payload == {"tags": {"lead": "Lead"}}


def test_tag_added_is_written_with_the_source_sides_spelling() -> None:
    plan = _plan(["vip", "Hot Lead"], ["vip"], ["vip"])
    add = only(plan, ActionKind.ADD_TAGS, "b")
    assert add.payload == {"tags": ["Hot Lead"], "keys": ["hot lead"]}
    assert add.source_side == "a"


def test_tags_differing_in_case_and_spaces_are_the_same_tag() -> None:
    assert summary(_plan([" VIP  Client"], ["vip client"], ["Vip Client"])) == []


def test_tags_compare_case_sensitively_when_configured() -> None:
    plan = _plan(["VIP"], ["vip"], ["vip"], tags_case_insensitive=False)
    # Under case-sensitive keys "VIP" is a new tag on A and "vip" was removed on A.
    assert only(plan, ActionKind.ADD_TAGS, "b").payload["tags"] == ["VIP"]
    assert only(plan, ActionKind.REMOVE_TAGS, "b").payload["tags"] == ["vip"]


def test_tags_initial_union() -> None:
    plan = _plan(["vip", "a-only"], ["VIP", "b-only"], None)
    assert not plan.conflicts
    initial = plan.actions[0]
    assert initial.kind is ActionKind.ADOPT_BASE
    assert initial.payload["initial"] is True
    assert initial.payload["tags"] == {"vip": "vip"}
    assert only(plan, ActionKind.ADD_TAGS, "b").payload["tags"] == ["a-only"]
    assert only(plan, ActionKind.ADD_TAGS, "a").payload["tags"] == ["b-only"]
    assert only(plan, ActionKind.ADD_TAGS, "a").reason.policy == "tags_initial=union"


def test_tags_initial_a_wins() -> None:
    plan = _plan(["vip", "a-only"], ["vip", "b-only"], None, tags_initial=TagsInitialPolicy.A_WINS)
    assert [a for a in summary(plan) if a[1] is not None] == [
        ("add_tags", "b"),
        ("remove_tags", "b"),
    ]
    assert only(plan, ActionKind.ADD_TAGS).payload["tags"] == ["a-only"]
    assert only(plan, ActionKind.REMOVE_TAGS).payload["tags"] == ["b-only"]


def test_tags_initial_b_wins() -> None:
    plan = _plan(["vip", "a-only"], ["vip", "b-only"], None, tags_initial=TagsInitialPolicy.B_WINS)
    assert only(plan, ActionKind.ADD_TAGS, "a").payload["tags"] == ["b-only"]
    assert only(plan, ActionKind.REMOVE_TAGS, "a").payload["tags"] == ["a-only"]
    assert not [a for a in plan.actions if a.side == "b"]


def test_tags_initial_manual_opens_conflict() -> None:
    plan = _plan(["vip", "a-only"], ["vip", "b-only"], None, tags_initial=TagsInitialPolicy.MANUAL)
    (conflict,) = plan.conflicts
    assert conflict.kind is ConflictKind.TAGS_INITIAL
    assert conflict.scope == "tags"
    assert (conflict.a_value, conflict.b_value) == (["a-only", "vip"], ["b-only", "vip"])
    assert not [a for a in plan.actions if a.writes]  # sides untouched


def test_tags_initial_manual_with_equal_sets_needs_no_conflict() -> None:
    plan = _plan(["vip"], ["VIP"], None, tags_initial=TagsInitialPolicy.MANUAL)
    assert not plan.conflicts
    assert summary(plan) == [("adopt_base", None)]


TAG_POOL = ["t1", "t2", "t3", "t4", "T1"]


@given(
    base_tags=st.sets(st.sampled_from(TAG_POOL)),
    a_tags=st.sets(st.sampled_from(TAG_POOL)),
    b_tags=st.sets(st.sampled_from(TAG_POOL)),
)
def test_property_tag_merge_equals_the_set_formula(
    base_tags: set[str], a_tags: set[str], b_tags: set[str]
) -> None:
    a = contact("ca", tag_names=sorted(a_tags))
    b = contact("cb", tag_names=sorted(b_tags))
    link_base = base(tag_names=sorted(base_tags))
    plan = plan_link(view(a, b, link_base), POLICY, (), NOW)
    assert not plan.conflicts
    keys = [set(a.tags), set(b.tags), set(link_base.tags)]
    on_a, on_b, in_base = keys
    expected = (in_base | (on_a - in_base) | (on_b - in_base)) - (in_base - on_a) - (in_base - on_b)
    final_a, final_b, final_base = execute(plan, a, b, link_base)
    assert final_base is not None
    assert set(final_a.tags) == set(final_b.tags) == set(final_base.tags) == expected
