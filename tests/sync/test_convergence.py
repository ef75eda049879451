"""Invariants 3 and 4 as properties: plan → apply → plan is empty, and the sides agree.

The world is a random pair: links agreed at a base, then random edits on both sides (fields,
tags, notes, deletions), plus unlinked contacts that match, collide or are new. Plans are
executed by ``tests.sync.world`` with the engine's own ``state_after``/``base_after``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.sides.base import CoreField
from reconciler.sync.model import (
    ContactState,
    CreateDirection,
    DeletePolicy,
    FieldConflictPolicy,
    LinkBase,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    Override,
    OverrideScope,
    PairPolicy,
    TagsInitialPolicy,
)
from tests.sync.builders import NOW, contact, fields, note_link, notes, tags
from tests.sync.world import Link, World

LINES = ["alpha", "beta", "gamma", "delta", "eps"]
BODIES = st.lists(st.sampled_from(LINES), min_size=1, max_size=5).map("\n".join)
NAMES = st.sampled_from(["Ann", "Bob", "Cy", None])
EMAILS = st.sampled_from(["ann@x.io", "bob@x.io", "cy@x.io", None])
PHONES = st.sampled_from(["+15550100", "+15550101", None])
TAG_NAMES = ["vip", "VIP", "lead", "cold", "Hot"]
FIELD_NAMES: list[CoreField] = ["first_name", "last_name", "email", "phone"]

POLICIES = st.builds(
    PairPolicy,
    tags_initial=st.sampled_from(list(TagsInitialPolicy)),
    note_conflict=st.sampled_from(
        [
            NoteConflictPolicy.A_WINS,
            NoteConflictPolicy.B_WINS,
            NoteConflictPolicy.MERGE,
            NoteConflictPolicy.KEEP_BOTH,
            NoteConflictPolicy.MANUAL,
        ]
    ),
    note_delete_vs_edit=st.sampled_from(list(NoteDeleteEditPolicy)),
    field_conflict=st.sampled_from(
        [FieldConflictPolicy.A_WINS, FieldConflictPolicy.B_WINS, FieldConflictPolicy.MANUAL]
    ),
    delete=st.sampled_from(list(DeletePolicy)),
    create=st.sampled_from(list(CreateDirection)),
    tags_case_insensitive=st.booleans(),
)

# One edit of one side's contact: what to do, and every argument any edit might need.
Edit = tuple[str, CoreField, str | None, str | None, str, str, int]
EDITS: st.SearchStrategy[Edit] = st.tuples(
    st.sampled_from(
        ["field", "email", "add_tag", "remove_tag", "edit_note", "delete_note", "add_note"]
    ),
    st.sampled_from(FIELD_NAMES),
    NAMES,
    EMAILS,
    st.sampled_from(TAG_NAMES),
    BODIES,
    st.integers(0, 4),
)


def _edit(state: ContactState, edits: list[Edit], prefix: str) -> ContactState:
    values = dict(state.fields)
    tag_map = dict(state.tags)
    note_map = {nid: n.body for nid, n in (state.notes or {}).items()}
    for number, (what, name, value, email, tag, body, index) in enumerate(edits):
        if what == "field":
            values[name] = value
        elif what == "email":
            values["email"] = email
        elif what == "add_tag":
            tag_map.update(tags(tag))
        elif what == "remove_tag" and tag_map:
            tag_map.pop(sorted(tag_map)[index % len(tag_map)])
        elif what == "edit_note" and note_map:
            note_map[sorted(note_map)[index % len(note_map)]] = body
        elif what == "delete_note" and note_map:
            note_map.pop(sorted(note_map)[index % len(note_map)])
        elif what == "add_note":
            note_map[f"{prefix}x{number}"] = body
    return replace(state, fields=values, tags=tag_map, notes=notes(note_map))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    world = World()
    for i in range(draw(st.integers(0, 3))):
        agreed = fields(first_name=draw(NAMES), email=draw(EMAILS), phone=draw(PHONES))
        tag_names = draw(st.sets(st.sampled_from(TAG_NAMES), max_size=3))
        bodies = draw(st.lists(BODIES, max_size=3))
        a_notes = {f"a{i}n{j}": body for j, body in enumerate(bodies)}
        b_notes = {f"b{i}n{j}": body for j, body in enumerate(bodies)}
        links = [note_link(f"K{i}n{j}", f"a{i}n{j}", f"b{i}n{j}", b) for j, b in enumerate(bodies)]
        a = ContactState(f"ca{i}", agreed, tags(*tag_names), notes(a_notes))
        b = ContactState(f"cb{i}", agreed, tags(*tag_names), notes(b_notes))
        world.links[f"K{i}"] = Link(
            a.contact_id, b.contact_id, LinkBase(agreed, tags(*tag_names), tuple(links))
        )
        for side, state in (("a", a), ("b", b)):
            fate = draw(st.sampled_from(["edit", "edit", "edit", "delete"]))
            if fate == "delete" and draw(st.booleans()):
                continue
            edited = _edit(state, draw(st.lists(EDITS, max_size=4)), f"{side}{i}")
            (world.a if side == "a" else world.b)[state.contact_id] = edited
    for side in ("a", "b"):
        for j in range(draw(st.integers(0, 2))):
            cid = f"u{side}{j}"
            state = contact(
                cid,
                first_name=draw(NAMES),
                email=draw(EMAILS),
                phone=draw(PHONES),
                tag_names=draw(st.sets(st.sampled_from(TAG_NAMES), max_size=2)),
                note_bodies={
                    f"{cid}n{k}": body for k, body in enumerate(draw(st.lists(BODIES, max_size=2)))
                },
            )
            (world.a if side == "a" else world.b)[cid] = state
    return world


SETTINGS = settings(
    max_examples=int(os.environ.get("SYNC_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(world=worlds(), policy=POLICIES)
def test_plan_apply_plan_is_empty_when_no_conflict_opened(world: World, policy: PairPolicy) -> None:
    world.file_tags_for(policy)
    first = world.plan(policy)
    if first.conflicts:
        return
    world.apply(first)
    second = world.plan(policy)
    assert second.is_empty, second
    assert world.agreed(policy)


@SETTINGS
@given(world=worlds(), policy=POLICIES, pin=st.sampled_from(["a", "b"]))
def test_pair_pin_converges_without_conflicts(world: World, policy: PairPolicy, pin: str) -> None:
    overrides = [Override("o1", OverrideScope.PAIR, pin="a" if pin == "a" else "b")]
    world.file_tags_for(policy)
    first = world.plan(policy, overrides)
    assert not [
        c for c in first.conflicts if c.link_id is not None and c.kind.value != "contact_match"
    ]
    world.apply(first)
    second = world.plan(policy, overrides)
    if not first.conflicts:
        assert second.is_empty, second
        assert world.agreed(policy)


@SETTINGS
@given(world=worlds(), policy=POLICIES, failed=st.sets(st.integers(0, 40), max_size=6))
def test_failed_writes_are_finished_by_the_next_run(
    world: World, policy: PairPolicy, failed: set[int]
) -> None:
    world.file_tags_for(policy)
    first = world.plan(policy)
    if first.conflicts:
        return
    parked = frozenset(i for i in failed if i < len(first.actions) and first.actions[i].writes)
    world.apply(first, skip=parked)
    second = world.plan(policy)
    if second.conflicts:
        return
    world.apply(second)
    third = world.plan(policy)
    assert third.is_empty, third
    assert world.agreed(policy)


WORDS = st.sampled_from(["one", "two", "three", "four"])


@st.composite
def _edited_lines(draw: st.DrawFn, lines: list[str]) -> list[str] | None:
    """None: the note was deleted on this side."""
    out = list(lines)
    what = draw(st.sampled_from(["keep", "replace", "insert", "drop", "delete", "replace"]))
    index = draw(st.integers(0, len(out) - 1))
    if what == "delete":
        return None
    if what == "replace":
        out[index] = draw(WORDS)
    elif what == "insert":
        out.insert(index, draw(WORDS))
    elif what == "drop" and len(out) > 1:
        del out[index]
    return out


@st.composite
def clash_worlds(draw: st.DrawFn) -> World:
    """One link whose notes (and first name) were edited on both sides: the clash rules."""
    world = World()
    agreed = fields(first_name="Ann", email="ann@x.io")
    count = draw(st.integers(1, 2))
    bases = [draw(st.lists(st.sampled_from(LINES), min_size=3, max_size=6)) for _ in range(count)]
    links = [note_link(f"K0n{j}", f"a0n{j}", f"b0n{j}", "\n".join(b)) for j, b in enumerate(bases)]
    world.links["K0"] = Link("ca0", "cb0", LinkBase(agreed, tags("vip"), tuple(links)))
    for side in ("a", "b"):
        bodies = {}
        for j, lines in enumerate(bases):
            edited = draw(_edited_lines(lines))
            if edited is not None:
                bodies[f"{side}0n{j}"] = "\n".join(edited)
        first_name = draw(st.sampled_from(["Ann", "Anne", "Annie"]))
        (world.a if side == "a" else world.b)[f"c{side}0"] = contact(
            f"c{side}0",
            first_name=first_name,
            email="ann@x.io",
            tag_names=["vip"],
            note_bodies=bodies,
            updated=NOW - timedelta(minutes=draw(st.integers(0, 2))),
        )
    return world


CLASH_POLICIES = st.builds(
    PairPolicy,
    note_conflict=st.sampled_from(list(NoteConflictPolicy)),
    note_delete_vs_edit=st.sampled_from(list(NoteDeleteEditPolicy)),
    field_conflict=st.sampled_from(list(FieldConflictPolicy)),
)


@SETTINGS
@given(world=clash_worlds(), policy=CLASH_POLICIES, failed=st.sets(st.integers(0, 8), max_size=3))
def test_clash_policies_converge_even_when_writes_fail(
    world: World, policy: PairPolicy, failed: set[int]
) -> None:
    first = world.plan(policy)
    if first.conflicts:
        return
    parked = frozenset(i for i in failed if i < len(first.actions) and first.actions[i].writes)
    world.apply(first, skip=parked)
    second = world.plan(policy)
    if not parked:
        assert second.is_empty, second
    if second.conflicts:
        return
    world.apply(second)
    third = world.plan(policy)
    assert third.is_empty, third
    assert world.agreed(policy)
