"""A new link whose sides already agree is planned by a shortcut (its initial base is its whole
plan): the shortcut must give exactly the plan of the merge rules."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from reconciler.sync import diff
from reconciler.sync.diff import plan_link
from reconciler.sync.model import (
    ActionKind,
    ContactState,
    LinkPlan,
    Override,
    OverrideScope,
    PairPolicy,
)
from tests.sync.builders import NOW, contact, notes, tags, view
from tests.sync.test_convergence import POLICIES, SETTINGS

NAMES = st.sampled_from(["Ann", "Bob", None])
TAG_NAMES = st.sets(st.sampled_from(["vip", "VIP", "lead", " Lead ", "cold"]), max_size=3)
BODIES = st.sampled_from(["one", "one  \r\n", "two\nthree", "\ntwo\nthree"])
OVERRIDES = st.lists(
    st.sampled_from(
        [
            Override("p", OverrideScope.PAIR, pin="a"),
            Override("t", OverrideScope.TAG, pin="b", tag_key="VIP"),
            Override("f", OverrideScope.FIELD, pin="a", field_name="first_name"),
            Override("c", OverrideScope.CONTACT, pin="b", link_id="L1"),
        ]
    ),
    max_size=2,
)


@st.composite
def new_links(draw: st.DrawFn) -> tuple[ContactState, ContactState]:
    """Two contacts that mostly agree (same fields, tag keys and note bodies up to spelling)."""
    first = draw(NAMES)
    a_notes = {f"a{i}": body for i, body in enumerate(draw(st.lists(BODIES, max_size=3)))}
    a = contact(
        "ca",
        first_name=first,
        email="ann@x.io",
        tag_names=draw(TAG_NAMES),
        note_bodies=a_notes if draw(st.booleans()) else None,
    )
    b_notes = {f"b{i}": body for i, body in enumerate(a_notes.values())}
    b = contact("cb", first_name=first, email="ann@x.io", note_bodies=b_notes)
    b = replace(b, tags=tags(*(name.upper() for name in a.tags.values())))
    if draw(st.booleans()):  # sometimes a difference the shortcut must leave to the rules
        b = replace(
            b,
            fields={**b.fields, "first_name": draw(NAMES)},
            tags={**b.tags, **tags(*draw(TAG_NAMES))},
            notes=notes({**b_notes, **{"bx": draw(BODIES)}}) if draw(st.booleans()) else b.notes,
        )
    return a, b


def _plan(
    pair: tuple[ContactState, ContactState], policy: PairPolicy, o: list[Override]
) -> LinkPlan:
    return plan_link(view(*pair, None), policy, o, NOW)


@SETTINGS
@given(pair=new_links(), policy=POLICIES, overrides=OVERRIDES)
def test_the_shortcut_for_agreeing_sides_plans_what_the_rules_plan(
    pair: tuple[ContactState, ContactState], policy: PairPolicy, overrides: list[Override]
) -> None:
    planned = _plan(pair, policy, overrides)
    with mock.patch.object(diff, "_sides_agree", return_value=False):
        assert _plan(pair, policy, overrides) == planned


def test_agreeing_sides_get_one_initial_base_and_nothing_else() -> None:
    a = contact("ca", first_name="Ann", tag_names=["VIP"], note_bodies={"a1": "hi"})
    b = contact("cb", first_name="Ann", tag_names=["vip"], note_bodies={"b1": "hi \r\n"})
    plan = _plan((a, b), PairPolicy(), [])
    assert [action.kind for action in plan.actions] == [ActionKind.ADOPT_BASE]
    assert plan.actions[0].payload["notes"] == [
        {"a_note_id": "a1", "b_note_id": "b1", "body": "hi"}
    ]
