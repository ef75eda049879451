"""The state machine's model: what people did on each side, and what of it must survive.

Every value a person writes is a unique token (a field value ``F12``, a note line ``t7``, a note
``N3`` named by its first line), so an edit can be traced across sides whatever ids the engine
gave the copies. An edit stays *live* until a person on some side overwrites it while seeing it
(that side held the token when it was overwritten or deleted), or a person resolves the
conflict that stored it. Invariant 1 is then a question about live edits only:

- weak (after any run, faults and all): each live edit's value is still somewhere: on a side,
  in a conflict, or in the journal's record of a value a policy overwrote;
- strong (after a clean full run): each live edit is on BOTH sides, or in an open conflict, or
  was settled by the pair's policy (the loser's value recorded as ``replaced``).

The world is read from the sides and the store (``World``), never predicted: the model only
says what must not be lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.sides.base import Contact, SideName
from reconciler.sides.memory import MemorySide
from reconciler.store.tables import ConflictRow
from reconciler.sync.model import (
    FieldConflictPolicy,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    PairPolicy,
)
from reconciler.sync.normalise import note_body

EditKind = Literal[
    "contact_create", "contact_delete", "field", "note_create", "note_line", "note_delete"
]
SIDES: tuple[SideName, SideName] = ("a", "b")
ARCHIVE_TAG = PairPolicy().archive_tag
SEPARATOR = "--"  # keeps the two editable lines of a note apart for the three-way text merge


def other(side: SideName) -> SideName:
    return "b" if side == "a" else "a"


def note_text(token: str, first: str, second: str) -> str:
    return f"{token}\n{first}\n{SEPARATOR}\n{second}"


def lines(body: str | None) -> list[str]:
    return [] if body is None else note_body(body).split("\n")


def token_of(body: object) -> str | None:
    """The note a body belongs to (its first line), for conflict values."""
    return lines(body)[0] if isinstance(body, str) and body else None


@dataclass(frozen=True, slots=True)
class Edit:
    side: SideName
    kind: EditKind
    email: str
    key: str  # field name or note token ("" for the contact)
    value: str | None  # the token written (None: a deletion)


@dataclass(slots=True)
class PersonView:
    contact: Contact
    notes: dict[str, str]  # note token -> normalised body


@dataclass(slots=True)
class World:
    """Both sides and the store's open conflicts, as read after a run."""

    sides: dict[SideName, dict[str, PersonView]]
    conflicts: dict[str, list[ConflictRow]]  # email -> open conflicts of its link
    replaced: set[tuple[str, str]]  # (side, value) a completed write overwrote

    @classmethod
    def read(
        cls,
        a: MemorySide,
        b: MemorySide,
        conflicts: Mapping[str, list[ConflictRow]],
        replaced: set[tuple[str, str]],
    ) -> World:
        return cls({"a": _view(a), "b": _view(b)}, dict(conflicts), replaced)

    def person(self, side: SideName, email: str) -> PersonView | None:
        return self.sides[side].get(email)

    def present(self, email: str) -> list[SideName]:
        return [side for side in SIDES if email in self.sides[side]]

    def retired(self, email: str) -> bool:
        """Its link ended by a deletion: archived on the survivor, or gone from both sides."""
        there = self.present(email)
        if not there:
            return True
        if len(there) == 1:
            survivor = self.sides[there[0]][email].contact
            return ARCHIVE_TAG in survivor.tags
        return False

    def contact_conflict(self, email: str) -> bool:
        return any(c.kind == "contact_delete" for c in self.conflicts.get(email, ()))

    def note_conflicts(self, email: str, token: str) -> list[ConflictRow]:
        return [
            c
            for c in self.conflicts.get(email, ())
            if c.kind in ("note", "note_delete")
            and token in {token_of(c.base_value), token_of(c.a_value), token_of(c.b_value)}
        ]

    def field_conflict(self, email: str, name: str) -> ConflictRow | None:
        for c in self.conflicts.get(email, ()):
            if c.kind == "field" and c.scope == name:
                return c
        return None

    def field(self, side: SideName, email: str, name: str) -> str | None:
        view = self.person(side, email)
        return None if view is None else getattr(view.contact, name)

    def note(self, side: SideName, email: str, token: str) -> str | None:
        view = self.person(side, email)
        return None if view is None else view.notes.get(token)


def _view(side: MemorySide) -> dict[str, PersonView]:
    out: dict[str, PersonView] = {}
    for contact in side.user.contacts():
        if contact.email is None:
            continue
        notes: dict[str, str] = {}
        for note in side.user.notes(contact.id):
            body = note_body(note.body)
            notes[lines(body)[0]] = body
        out[contact.email] = PersonView(contact, notes)
    return out


@dataclass(slots=True)
class Ledger:
    """Live edits, and the history that justifies a deletion (invariant 5)."""

    policy: PairPolicy
    live: list[Edit] = field(default_factory=list)
    deleted_contacts: set[tuple[SideName, str]] = field(default_factory=set)  # (side, email)
    deleted_notes: set[tuple[SideName, str, str]] = field(default_factory=set)

    def add(self, edit: Edit) -> None:
        self.live.append(edit)
        if edit.kind == "contact_delete":
            self.deleted_contacts.add((edit.side, edit.email))
        elif edit.kind == "note_delete":
            self.deleted_notes.add((edit.side, edit.email, edit.key))

    def discharge(self, seen: Callable[[Edit], bool]) -> None:
        """Drop the live edits a person saw and overwrote (or settled by a resolution)."""
        self.live = [e for e in self.live if not seen(e)]

    # -- invariant 1 ---------------------------------------------------------------------------

    def lost(self, world: World, *, strong: bool) -> list[str]:
        """Live edits the world no longer holds as invariant 1 requires."""
        out: list[str] = []
        for edit in self.live:
            if world.retired(edit.email):
                continue  # the survivor keeps its values; nothing is left to propagate to
            ok = self._strong(edit, world) if strong else self._weak(edit, world)
            if not ok:
                out.append(f"{edit} ({'strong' if strong else 'weak'})")
        return out

    def _overwritten_by_policy(self, edit: Edit, world: World, value: str) -> bool:
        """A clash the pair's policy settled against ``edit``'s side, the loser journaled."""
        policy = self.policy
        loser_of: dict[str, SideName | None] = {
            "field": _loser(policy.field_conflict.value),
            "note_line": _loser(policy.note_conflict.value),
        }
        if loser_of.get(edit.kind) != edit.side:
            return False
        return any(
            side == edit.side and (value == replaced or value in lines(replaced))
            for side, replaced in world.replaced
        )

    def _weak(self, edit: Edit, world: World) -> bool:
        email, key, value = edit.email, edit.key, edit.value
        if edit.kind == "field":
            assert value is not None
            stored = world.field_conflict(email, key)
            return (
                any(world.field(s, email, key) == value for s in SIDES)
                or (stored is not None and value in (stored.a_value, stored.b_value))
                or self._overwritten_by_policy(edit, world, value)
            )
        if edit.kind in ("note_create", "note_line"):
            assert value is not None
            conflicts = world.note_conflicts(email, key)
            held = [world.note(s, email, key) for s in SIDES] + [
                v for c in conflicts for v in (c.a_value, c.b_value) if isinstance(v, str)
            ]
            return any(value in lines(body) for body in held) or (
                edit.kind == "note_line" and self._overwritten_by_policy(edit, world, value)
            )
        if edit.kind == "contact_create":
            return bool(world.present(email))
        return True  # a deletion cannot be "lost" by being kept; see _strong

    def _strong(self, edit: Edit, world: World) -> bool:
        email, key, value = edit.email, edit.key, edit.value
        if world.contact_conflict(email):
            return self._weak(edit, world)  # the survivor is left untouched until resolved
        both = len(world.present(email)) == 2
        if edit.kind == "contact_create":
            return both
        if edit.kind == "contact_delete":
            return world.retired(email)
        if edit.kind == "field":
            assert value is not None
            stored = world.field_conflict(email, key)
            return (
                (both and all(world.field(s, email, key) == value for s in SIDES))
                or (stored is not None and value in (stored.a_value, stored.b_value))
                or self._overwritten_by_policy(edit, world, value)
            )
        bodies = [world.note(s, email, key) for s in SIDES]
        conflicts = world.note_conflicts(email, key)
        if edit.kind == "note_delete":
            if all(body is None for body in bodies) or conflicts:
                return True
            # Deleted here, edited there: the edit wins and the note is back on both sides.
            return (
                self.policy.note_delete_vs_edit is NoteDeleteEditPolicy.EDIT_WINS
                and bodies[0] is not None
                and bodies[0] == bodies[1]
            )
        assert value is not None
        if both and all(value in lines(body) for body in bodies):
            return True
        if any(
            value in lines(v)
            for c in conflicts
            for v in (c.a_value, c.b_value)
            if isinstance(v, str)
        ):
            return True
        return edit.kind == "note_line" and self._overwritten_by_policy(edit, world, value)


def _loser(policy: str) -> SideName | None:
    if policy == FieldConflictPolicy.A_WINS.value or policy == NoteConflictPolicy.A_WINS.value:
        return "b"
    if policy == FieldConflictPolicy.B_WINS.value or policy == NoteConflictPolicy.B_WINS.value:
        return "a"
    return None
