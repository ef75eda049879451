"""A large matching pool in batches (``reconciler.sync.batches``): whole identity groups, open
CONTACT_MATCH conflicts with their candidates, the run's note selection divided in its order,
and matching batch by batch equal to matching the pool at once."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from reconciler.sides.base import CoreField, SideName
from reconciler.store.repo_sync import ActiveConflict, PoolRow, SideContact
from reconciler.sync.batches import split_work
from reconciler.sync.match import ContactMatching, match_contacts
from reconciler.sync.model import (
    ConflictKind,
    ContactState,
    OpenConflictRef,
    PairPolicy,
    UnlinkedContact,
)
from reconciler.sync.notes import NoteSelection
from reconciler.sync.views import Work

POLICY = PairPolicy()
Person = tuple[SideContact, PoolRow]


def _person(side: SideName, cid: str, email: str | None, phone: str | None) -> Person:
    # As the store holds them: email and phone in their normal (matching) form.
    return (side, cid), PoolRow(cid, email, phone, True, True, False, None)


def _match_conflict(cid: str, scope: str, a: list[str], b: list[str]) -> ActiveConflict:
    return ActiveConflict(
        ref=OpenConflictRef(cid, ConflictKind.CONTACT_MATCH, scope),
        link_id=None,
        a_value=[{"contact_id": x} for x in a],
        b_value=[{"contact_id": x} for x in b],
    )


def _work(people: list[Person], conflicts: Sequence[ActiveConflict] = ()) -> Work:
    entries = dict(people)
    return Work(
        links={},
        rows={},
        pool=sorted(entries),
        dirty=set(),
        unsettled=set(),
        conflicts=list(conflicts),
        overrides=[],
        priority_links=[],
        entries=entries,
    )


def _selection(work: Work) -> NoteSelection:
    selection = NoteSelection(budget=10**6)
    for key in reversed(work.pool):  # an order of its own, to check it is kept
        selection.add([key])
    return selection


def test_a_pool_within_the_batch_size_is_one_part() -> None:
    work = _work([_person("a", "a1", "x@e.io", None), _person("b", "b1", "x@e.io", None)])
    selection = _selection(work)
    (part,) = split_work(work, selection, limit=2)
    assert part.work is work
    assert part.selection is selection


def test_contacts_sharing_an_email_or_a_phone_stay_together_and_batches_are_bounded() -> None:
    people = [
        # one group by a chain: a1 -email- b1 -phone- a2
        _person("a", "a1", "ann@e.io", None),
        _person("b", "b1", "ann@e.io", "+15550100"),
        _person("a", "a2", None, "+15550100"),
        # singles
        *(_person("a", f"s{i}", f"s{i}@e.io", None) for i in range(5)),
    ]
    work = _work(people)
    parts = split_work(work, _selection(work), limit=3)
    links, *pool_parts = parts
    assert links.work.pool == []
    assert links.work.entries == {}
    batches = [set(p.work.pool) for p in pool_parts]
    assert all(len(b) <= 3 for b in batches)
    assert sum(len(b) for b in batches) == len(people)
    group = {("a", "a1"), ("b", "b1"), ("a", "a2")}
    assert any(group <= b for b in batches)
    assert work.entries == {}, "the parts took the pool over"
    for part in pool_parts:
        assert set(part.work.entries) == set(part.work.pool)


def test_a_group_bigger_than_the_batch_size_stays_whole() -> None:
    people = [_person("a" if i % 2 else "b", f"c{i}", "same@e.io", None) for i in range(5)]
    people.append(_person("a", "lone", "lone@e.io", None))
    work = _work(people)
    _, *pool_parts = split_work(work, _selection(work), limit=2)
    assert sorted(len(p.work.pool) for p in pool_parts) == [1, 5]


def test_an_open_match_conflict_goes_with_its_candidates_or_else_with_the_links() -> None:
    people = [
        _person("a", "a1", "flo@e.io", None),
        _person("a", "a2", "florence@e.io", None),
        _person("b", "b1", "other@e.io", None),
        _person("b", "b2", "x@e.io", None),
    ]
    named = _match_conflict("c-named", "+15550177", ["a1", "a2"], ["b1"])
    by_scope = _match_conflict("c-scope", "x@e.io", [], [])
    gone = _match_conflict("c-gone", "nobody@e.io", ["zz"], [])
    field_conflict = ActiveConflict(
        ref=OpenConflictRef("c-field", ConflictKind.FIELD, "first_name"),
        link_id="L1",
        a_value="x",
        b_value="y",
    )
    work = _work(people, [named, by_scope, gone, field_conflict])
    links, *pool_parts = split_work(work, _selection(work), limit=1)
    assert [c.ref.conflict_id for c in links.work.conflicts] == ["c-gone", "c-field"]
    (with_named,) = [p for p in pool_parts if named in p.work.conflicts]
    assert {("a", "a1"), ("a", "a2"), ("b", "b1")} <= set(with_named.work.pool)
    (with_scope,) = [p for p in pool_parts if by_scope in p.work.conflicts]
    assert ("b", "b2") in with_scope.work.pool


def test_the_note_selection_is_divided_among_the_parts_in_its_order() -> None:
    people = [_person("a", f"a{i}", f"p{i}@e.io", None) for i in range(4)]
    people += [_person("b", f"b{i}", f"p{i}@e.io", None) for i in range(4)]
    work = _work(people)
    selection = NoteSelection(budget=3)  # the run's: a3/b3, a2/b2, then a1 alone
    for i in (3, 2):
        selection.add([("a", f"a{i}"), ("b", f"b{i}")])
    selection.add([("a", "a1")])
    parts = split_work(work, selection, limit=4)
    read = {side: [cid for p in parts for cid in p.selection.ids[side]] for side in ("a", "b")}
    assert sorted(read["a"]) == ["a1", "a2", "a3"]
    assert sorted(read["b"]) == ["b2", "b3"]
    for part in parts:
        for side in ("a", "b"):
            ids = part.selection.ids[side]
            assert ids == [cid for cid in selection.ids[side] if cid in ids]
            assert {(side, cid) for cid in ids} <= set(part.work.pool)


_EMAILS = st.sampled_from([None, "e1@x.io", "e2@x.io", "e3@x.io", "e4@x.io"])
_PHONES = st.sampled_from([None, "+15550001", "+15550002", "+15550003"])


@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), _EMAILS, _PHONES), max_size=24),
    st.integers(min_value=1, max_value=6),
)
def test_matching_batch_by_batch_is_matching_the_whole_pool(
    drawn: list[tuple[SideName, str | None, str | None]], limit: int
) -> None:
    people = [_person(side, f"{side}{i}", mail, tel) for i, (side, mail, tel) in enumerate(drawn)]
    work = _work(people)
    whole = _outcome(match_contacts([_unlinked(*p) for p in people], POLICY))
    parts = split_work(work, _selection(work), limit=limit)
    batched: tuple[set[object], set[object], set[object]] = (set(), set(), set())
    for part in parts:
        unlinked = [_unlinked(key, part.work.entries[key]) for key in part.work.pool]
        for mine, theirs in zip(batched, _outcome(match_contacts(unlinked, POLICY)), strict=True):
            mine |= theirs
    assert batched == whole


def _unlinked(key: SideContact, entry: PoolRow) -> UnlinkedContact:
    fields: dict[CoreField, str | None] = {"email": entry.email, "phone": entry.phone}
    return UnlinkedContact(key[0], ContactState(entry.contact_id, fields, {}))


def _outcome(matching: ContactMatching) -> tuple[set[object], set[object], set[object]]:
    return (
        {(p.a.contact_id, p.b.contact_id, p.identity) for p in matching.pairs},
        {
            (g.identity, tuple(c.contact_id for c in g.a), tuple(c.contact_id for c in g.b))
            for g in matching.ambiguous
        },
        {(u.side, u.state.contact_id) for u in matching.unmatched},
    )
