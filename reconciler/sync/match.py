"""Pairing things no link knows yet: contacts across sides, and notes within a link.

Contacts pair by normalised email first, then by E.164 phone, strictly one to one: when an
identity is shared by several contacts on one side (or both), nobody is linked on it and the
group becomes a CONTACT_MATCH conflict (its scope is the identity), because guessing wrong
would merge two people. Contacts in an ambiguous email group are not tried again by phone.

Notes pair by normalised body hash (``NoteState.hash``), one to one; equal hashes pair in note
id order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from reconciler.sides.base import SideName
from reconciler.sync.model import ContactState, NoteState, PairPolicy, UnlinkedContact
from reconciler.sync.normalise import email_key, phone_key

Via = Literal["email", "phone"]


@dataclass(frozen=True, slots=True)
class ContactPair:
    a: ContactState
    b: ContactState
    identity: str
    via: Via


@dataclass(frozen=True, slots=True)
class AmbiguousMatch:
    """Several contacts share ``identity`` (on one side or both): no link, a conflict."""

    identity: str
    via: Via
    a: tuple[ContactState, ...]
    b: tuple[ContactState, ...]


@dataclass(frozen=True, slots=True)
class ContactMatching:
    pairs: tuple[ContactPair, ...]
    ambiguous: tuple[AmbiguousMatch, ...]
    unmatched: tuple[UnlinkedContact, ...]


def identities(state: ContactState, policy: PairPolicy) -> tuple[str | None, str | None]:
    """The contact's (email key, phone key)."""
    return (
        email_key(state.fields.get("email")),
        phone_key(state.fields.get("phone"), default_region=policy.default_phone_region),
    )


Identities = Callable[[ContactState], tuple[str | None, str | None]]


def match_contacts(
    unlinked: Sequence[UnlinkedContact],
    policy: PairPolicy,
    *,
    identities_of: Identities | None = None,
) -> ContactMatching:
    """``identities_of``: ``identities`` under ``policy``, when the caller knows a cheaper way
    for some contacts."""
    key = identities_of or (lambda state: identities(state, policy))
    ordered = sorted(unlinked, key=lambda u: (u.side, u.state.contact_id))
    found = match_identities(
        [(i, contact.side, *key(contact.state)) for i, contact in enumerate(ordered)]
    )
    return ContactMatching(
        tuple(
            ContactPair(ordered[a].state, ordered[b].state, identity, via)
            for a, b, identity, via in found.pairs
        ),
        tuple(
            AmbiguousMatch(
                identity,
                via,
                tuple(ordered[i].state for i in on_a),
                tuple(ordered[i].state for i in on_b),
            )
            for identity, via, on_a, on_b in found.ambiguous
        ),
        tuple(ordered[i] for i in found.unmatched),
    )


K = TypeVar("K")
_PASSES: tuple[Via, ...] = ("email", "phone")
Candidate = tuple[K, SideName, str | None, str | None]  # (key, side, email key, phone key)


@dataclass(frozen=True, slots=True)
class IdentityMatching(Generic[K]):
    pairs: list[tuple[K, K, str, Via]]  # (key on A, key on B, identity, via)
    ambiguous: list[tuple[str, Via, list[K], list[K]]]  # (identity, via, keys on A, on B)
    unmatched: list[K]


def match_identities(candidates: Sequence[Candidate[K]]) -> IdentityMatching[K]:
    """The rules of the module docstring over bare identities, in the candidates' order (the
    caller sorts them): email pass, then phone pass over the contacts no email group took;
    identities in sorted order. Holds a key and two strings per contact, nothing more: a
    first sync matches every contact of the pair."""
    pairs: list[tuple[K, K, str, Via]] = []
    ambiguous: list[tuple[str, Via, list[K], list[K]]] = []
    remaining = list(candidates)
    for via in _PASSES:
        groups: dict[str, list[int]] = {}  # identity -> positions in ``remaining``
        for position, (_, _, email, phone) in enumerate(remaining):
            identity = email if via == "email" else phone
            if identity is not None:
                groups.setdefault(identity, []).append(position)
        taken: set[int] = set()
        for identity in sorted(groups):
            group = groups[identity]
            on_a = [remaining[p][0] for p in group if remaining[p][1] == "a"]
            if not on_a or len(on_a) == len(group):
                continue  # one side only: nothing to pair
            on_b = [remaining[p][0] for p in group if remaining[p][1] == "b"]
            if len(on_a) == 1 and len(on_b) == 1:
                pairs.append((on_a[0], on_b[0], identity, via))
            else:
                ambiguous.append((identity, via, on_a, on_b))
            taken.update(group)
        del groups
        remaining = [c for position, c in enumerate(remaining) if position not in taken]
    return IdentityMatching(pairs, ambiguous, [c[0] for c in remaining])


@dataclass(frozen=True, slots=True)
class NoteMatching:
    pairs: tuple[tuple[NoteState, NoteState], ...]
    a_only: tuple[NoteState, ...]
    b_only: tuple[NoteState, ...]


def match_notes(a_notes: Iterable[NoteState], b_notes: Iterable[NoteState]) -> NoteMatching:
    """Pair unlinked notes of one link by body hash, one to one, in note id order: the k-th
    note of a hash on A (by id) pairs with the k-th of that hash on B.

    The hash is the note's own ``NoteState.hash`` (``note_hash`` of its body, computed once when
    the note was read), not recomputed here."""
    on_b: dict[str, list[NoteState]] = {}
    for note in sorted(b_notes, key=_note_id):
        on_b.setdefault(note.hash, []).append(note)
    taken: dict[str, int] = {}  # per hash, how many of its B notes are paired
    pairs: list[tuple[NoteState, NoteState]] = []
    a_only: list[NoteState] = []
    for note in sorted(a_notes, key=_note_id):
        body_hash = note.hash
        candidates = on_b.get(body_hash, ())
        used = taken.get(body_hash, 0)
        if used < len(candidates):
            pairs.append((note, candidates[used]))
            taken[body_hash] = used + 1
        else:
            a_only.append(note)
    b_only = [note for h, notes in on_b.items() for note in notes[taken.get(h, 0) :]]
    pairs.sort(key=lambda p: (p[0].note_id, p[1].note_id))
    b_only.sort(key=_note_id)
    return NoteMatching(tuple(pairs), tuple(a_only), tuple(b_only))


def _note_id(note: NoteState) -> str:
    return note.note_id
