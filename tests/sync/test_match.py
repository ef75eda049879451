"""Matching: contacts one to one by email then phone; notes one to one by body hash."""

from __future__ import annotations

from reconciler.sync.match import match_contacts, match_notes
from reconciler.sync.model import PairPolicy, UnlinkedContact
from tests.sync.builders import contact, notes

POLICY = PairPolicy()


def test_email_beats_phone_and_each_contact_links_once() -> None:
    matching = match_contacts(
        [
            UnlinkedContact("a", contact("a1", email="ann@x.io", phone="+15550100")),
            UnlinkedContact("b", contact("b1", email="ANN@x.io")),
            UnlinkedContact("b", contact("b2", phone="555-0100")),
        ],
        PairPolicy(default_phone_region="1"),
    )
    assert [(p.a.contact_id, p.b.contact_id, p.via) for p in matching.pairs] == [
        ("a1", "b1", "email")
    ]
    assert [u.state.contact_id for u in matching.unmatched] == ["b2"]


def test_phone_match_uses_the_default_region_for_national_numbers() -> None:
    matching = match_contacts(
        [
            UnlinkedContact("a", contact("a1", phone="020 7946 0018")),
            UnlinkedContact("b", contact("b1", phone="+44 20 7946 0018")),
        ],
        PairPolicy(default_phone_region="44"),
    )
    assert [(p.identity, p.via) for p in matching.pairs] == [("+442079460018", "phone")]


def test_several_contacts_on_both_sides_sharing_a_phone_are_ambiguous() -> None:
    matching = match_contacts(
        [
            UnlinkedContact("a", contact("a1", phone="+15550100")),
            UnlinkedContact("a", contact("a2", phone="+15550100")),
            UnlinkedContact("b", contact("b1", phone="+1 555 0100")),
            UnlinkedContact("b", contact("b2", phone="+15550100")),
        ],
        POLICY,
    )
    assert matching.pairs == ()
    assert matching.unmatched == ()
    (group,) = matching.ambiguous
    assert (group.identity, group.via) == ("+15550100", "phone")
    assert [c.contact_id for c in group.a] == ["a1", "a2"]
    assert [c.contact_id for c in group.b] == ["b1", "b2"]


def test_duplicates_on_one_side_without_counterpart_stay_unmatched() -> None:
    matching = match_contacts(
        [
            UnlinkedContact("a", contact("a1", email="x@x.io")),
            UnlinkedContact("a", contact("a2", email="x@x.io")),
        ],
        POLICY,
    )
    assert matching.ambiguous == ()
    assert len(matching.unmatched) == 2


def test_notes_pair_by_hash_in_id_order() -> None:
    matching = match_notes(
        notes({"a2": "same", "a1": "same", "a3": "only a"}).values(),
        notes({"b9": "same ", "b1": "other"}).values(),
    )
    assert [(x.note_id, y.note_id) for x, y in matching.pairs] == [("a1", "b9")]
    assert [n.note_id for n in matching.a_only] == ["a2", "a3"]
    assert [n.note_id for n in matching.b_only] == ["b1"]
