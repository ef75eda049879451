"""The data behind a ``MemorySide``, with HighLevel's semantics, mutated synchronously.

Tests reach it as ``side.user`` to act as "a user on that side" would (edit a note in the UI,
tag a contact by hand): those changes are not requests, cost no budget and never fail. The
side's async methods go through the same operations, so both paths obey the same rules:

- tags are a set changed by deltas, stored trimmed and lower-cased as HighLevel does;
  ``dateUpdated`` moves when a field or the tag set actually changes (a no-op write leaves it)
  and strictly increases per contact, so a "changed since" watermark never misses a write;
- notes have no update time, and writing them does not move the contact's ``dateUpdated``;
- ids are 20 characters of ``[A-Za-z0-9]`` like HighLevel's, drawn from a seeded RNG;
- timestamps have millisecond precision (HighLevel sends ``...T12:02:11.285Z``);
- a create (or an update) whose email, then phone, matches another contact is refused with that
  contact's id, as a location with "allow duplicate contacts" off does;
- notes list newest first; an empty string clears a field.

Contacts are kept in a list sorted by ``(dateUpdated, id)``: listing pages are bisections and
slices, so a 100,000-contact store pages as fast as a small one, and a contact updated during a
listing moves behind the cursor and is seen again, as with HighLevel's ``searchAfter``.

Benchmarks hold two stores of 100,000 contacts in the process they measure, so the layout is
compact: a contact is stored as a tuple with its tags as a tuple too (a 5-tag frozenset alone
takes 472 bytes) and each read builds its ``Contact``; the strings are the stored ones, so an
engine that keeps them shares them. Notes are stored as the ``Note`` records reads return, one
tuple per contact; lookup indexes hold a bare id in the usual case of one contact per key, and
equal timestamps share one ``datetime``.
"""

from __future__ import annotations

import random
import string
import sys
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple

from reconciler.errors import DuplicateContactError, NotFoundError
from reconciler.sides.base import CORE_FIELDS, Contact, CoreField, Note, Task, TaskDraft
from reconciler.sides.normalise import normalise_email, normalise_phone

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 20
# Random bytes to id characters in one C call (the slight modulo bias does not matter here).
_ID_TABLE = bytes(ord(_ID_ALPHABET[b % len(_ID_ALPHABET)]) for b in range(256))

SortKey = tuple[datetime, str]


class _Stored(NamedTuple):
    """A stored contact: ``Contact``'s fields in its order, tags as a tuple."""

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    tags: tuple[str, ...]
    date_added: datetime
    date_updated: datetime


# Key -> the id of the one contact with that key, or the ids of several (duplicates allowed).
# A bare id, not a list: almost every key has one contact, and a list costs 80 bytes more.
Index = dict[str, str | list[str]]


def utc_now_ms() -> datetime:
    return truncate_ms(datetime.now(UTC))


def truncate_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class MemoryStore:
    """Contacts, tags, notes and tasks of one in-memory account."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now_ms,
        allow_duplicates: bool = False,
        id_seed: int = 0,
    ) -> None:
        self._clock = clock
        self._last_now: datetime | None = None
        self.allow_duplicates = allow_duplicates
        self._ids = random.Random(id_seed)
        self._contacts: dict[str, _Stored] = {}
        self._order: list[_Stored] = []  # sorted by _key
        self._by_email: Index = {}
        self._by_phone: Index = {}
        # Contact id -> its notes, newest first; a contact without notes has no entry.
        self._notes: dict[str, tuple[Note, ...]] = {}
        self._tasks: dict[str, dict[str, Task]] = {}

    # -- reads ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._contacts)

    def contact(self, contact_id: str) -> Contact:
        return _contact(self._stored(contact_id))

    def contacts(self) -> list[Contact]:
        """Every contact, in listing order (``dateUpdated``, then id)."""
        return [_contact(stored) for stored in self._order]

    def page(self, *, after: SortKey | None, since: datetime | None, limit: int) -> list[Contact]:
        """Up to ``limit`` contacts sorted after ``after`` and updated at or after ``since``."""
        start = 0
        if since is not None:
            start = bisect_left(self._order, (since, ""), key=_key)
        if after is not None:
            start = max(start, bisect_right(self._order, after, key=_key))
        return [_contact(stored) for stored in self._order[start : start + limit]]

    def find(self, *, email: str | None = None, phone: str | None = None) -> list[Contact]:
        ids: set[str] = set()
        email_key = normalise_email(email)
        if email_key is not None:
            ids.update(_held(self._by_email, email_key))
        phone_key = normalise_phone(phone)
        if phone_key is not None:
            ids.update(_held(self._by_phone, phone_key))
        return [_contact(self._contacts[i]) for i in sorted(ids)]

    def notes(self, contact_id: str) -> list[Note]:
        self._stored(contact_id)  # NotFoundError for an unknown contact
        return list(self._notes.get(contact_id, ()))

    def note(self, contact_id: str, note_id: str) -> Note:
        return self._notes[contact_id][self._note_at(contact_id, note_id)]

    def tasks(self, contact_id: str) -> list[Task]:
        self.contact(contact_id)
        return list(self._tasks.get(contact_id, {}).values())

    def task(self, contact_id: str, task_id: str) -> Task:
        try:
            return self._tasks[contact_id][task_id]
        except KeyError:
            raise NotFoundError(f"task {task_id} not found", status=404) from None

    # -- contact writes --------------------------------------------------------------------

    def add_contact(
        self,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        tags: Iterable[str] = (),
    ) -> Contact:
        now = self._now()
        stored = _Stored(
            id=self._new_id(),
            first_name=first_name or None,
            last_name=last_name or None,
            email=email or None,
            phone=_stored_phone(phone),
            tags=tuple(normalise_tags(tags)),
            date_added=now,
            date_updated=now,
        )
        self._check_duplicates(stored)
        self._contacts[stored.id] = stored
        insort(self._order, stored, key=_key)
        self._index(stored)
        return _contact(stored)

    def edit_contact(
        self, contact_id: str, changes: Mapping[CoreField, str | None] | None = None, **fields: str
    ) -> Contact:
        """Change core fields (a ``changes`` mapping, keyword arguments, or both)."""
        merged: dict[str, str | None] = {name: value for name, value in (changes or {}).items()}
        merged.update(fields)
        unknown = set(merged) - set(CORE_FIELDS)
        if unknown:
            raise ValueError(f"not core fields: {sorted(unknown)}")
        current = self._stored(contact_id)
        cleaned = {name: value or None for name, value in merged.items()}
        if "phone" in cleaned:
            cleaned["phone"] = _stored_phone(cleaned["phone"])
        if all(getattr(current, name) == value for name, value in cleaned.items()):
            return _contact(current)
        self._check_duplicates(current._replace(**cleaned))  # type: ignore[arg-type]
        return self._replace(current, **cleaned)

    def delete_contact(self, contact_id: str) -> None:
        stored = self._stored(contact_id)
        del self._contacts[contact_id]
        self._notes.pop(contact_id, None)
        self._tasks.pop(contact_id, None)
        del self._order[bisect_left(self._order, _key(stored), key=_key)]
        self._unindex(stored)

    def add_tag(self, contact_id: str, *tags: str) -> Contact:
        stored = self._stored(contact_id)
        current = frozenset(stored.tags)
        merged = current | normalise_tags(tags)
        if merged == current:
            return _contact(stored)
        return self._replace(stored, tags=tuple(merged))

    def remove_tag(self, contact_id: str, *tags: str) -> Contact:
        stored = self._stored(contact_id)
        current = frozenset(stored.tags)
        kept = current - normalise_tags(tags)
        if kept == current:
            return _contact(stored)
        return self._replace(stored, tags=tuple(kept))

    # -- notes and tasks -------------------------------------------------------------------

    def add_note(self, contact_id: str, body: str, *, user_id: str | None = None) -> Note:
        stored = self._stored(contact_id)
        note = Note(
            id=self._new_id(),
            contact_id=stored.id,  # the stored id string, shared
            body=body,
            date_added=self._now(),
            user_id=user_id,
        )
        self._notes[contact_id] = (note, *self._notes.get(contact_id, ()))
        return note

    def edit_note(self, contact_id: str, note_id: str, body: str) -> Note:
        at = self._note_at(contact_id, note_id)
        notes = self._notes[contact_id]
        note = replace(notes[at], body=body)
        self._notes[contact_id] = (*notes[:at], note, *notes[at + 1 :])
        return note

    def delete_note(self, contact_id: str, note_id: str) -> None:
        at = self._note_at(contact_id, note_id)
        notes = self._notes[contact_id]
        if len(notes) == 1:
            del self._notes[contact_id]
        else:
            self._notes[contact_id] = (*notes[:at], *notes[at + 1 :])

    def add_task(self, contact_id: str, draft: TaskDraft) -> Task:
        self.contact(contact_id)
        task = Task(
            id=self._new_id(),
            contact_id=contact_id,
            title=draft.title,
            body=draft.body,
            due_date=draft.due_date,
            completed=draft.completed,
            assigned_to=draft.assigned_to,
        )
        self._tasks.setdefault(contact_id, {})[task.id] = task
        return task

    def edit_task(self, contact_id: str, task_id: str, draft: TaskDraft) -> Task:
        task = replace(
            self.task(contact_id, task_id),
            title=draft.title,
            body=draft.body,
            due_date=draft.due_date,
            completed=draft.completed,
            assigned_to=draft.assigned_to,
        )
        self._tasks[contact_id][task_id] = task
        return task

    def complete_task(self, contact_id: str, task_id: str, completed: bool) -> Task:
        task = replace(self.task(contact_id, task_id), completed=completed)
        self._tasks[contact_id][task_id] = task
        return task

    def delete_task(self, contact_id: str, task_id: str) -> None:
        self.task(contact_id, task_id)
        del self._tasks[contact_id][task_id]

    # -- bulk ------------------------------------------------------------------------------

    def populate(
        self,
        count: int,
        *,
        tags_per_contact: int = 5,
        notes_per_contact: int = 3,
        seed: int = 0,
    ) -> list[str]:
        """Add ``count`` distinct contacts with tags and notes (benchmarks, big tests)."""
        rng = random.Random(seed)
        tag_pool = [f"tag-{i}" for i in range(max(50, tags_per_contact * 4))]
        ids: list[str] = []
        start = len(self._contacts)
        for n in range(start, start + count):
            contact = self.add_contact(
                first_name=f"First{n}",
                last_name=f"Last{n}",
                email=f"person{n}.{seed}@example.com",
                phone=f"+1555{n % 10_000_000:07d}" if n < 10_000_000 else None,
                tags=rng.sample(tag_pool, tags_per_contact),
            )
            for k in range(notes_per_contact):
                self.add_note(contact.id, f"Note {k} about contact {n}: called, left a message.")
            ids.append(contact.id)
        return ids

    # -- internals -------------------------------------------------------------------------

    def _stored(self, contact_id: str) -> _Stored:
        try:
            return self._contacts[contact_id]
        except KeyError:
            raise NotFoundError(f"contact {contact_id} not found", status=404) from None

    def _now(self) -> datetime:
        """The clock, with equal readings sharing one ``datetime`` (48 bytes per stamp)."""
        now = self._clock()
        if now == self._last_now:
            return self._last_now
        self._last_now = now
        return now

    def _note_at(self, contact_id: str, note_id: str) -> int:
        for at, note in enumerate(self._notes.get(contact_id, ())):
            if note.id == note_id:
                return at
        raise NotFoundError(f"note {note_id} not found", status=404)

    def _new_id(self) -> str:
        return self._ids.randbytes(_ID_LENGTH).translate(_ID_TABLE).decode("ascii")

    def _check_duplicates(self, candidate: _Stored) -> None:
        if self.allow_duplicates:
            return
        for key, index in (
            (normalise_email(candidate.email), self._by_email),
            (normalise_phone(candidate.phone), self._by_phone),
        ):
            others = sorted(i for i in _held(index, key) if i != candidate.id) if key else []
            if others:
                raise DuplicateContactError(
                    "This location does not allow duplicated contacts.",
                    existing_id=others[0],
                    status=400,
                )

    def _stamp(self, stored: _Stored) -> datetime:
        """Now, but strictly after the contact's last stamp (see the module docstring)."""
        now = self._now()
        if now <= stored.date_updated:
            now = stored.date_updated + timedelta(milliseconds=1)
        return now

    def _replace(self, stored: _Stored, **changes: object) -> Contact:
        updated = stored._replace(**changes, date_updated=self._stamp(stored))  # type: ignore[arg-type]
        del self._order[bisect_left(self._order, _key(stored), key=_key)]
        insort(self._order, updated, key=_key)
        self._unindex(stored)
        self._index(updated)
        self._contacts[stored.id] = updated
        return _contact(updated)

    def _index(self, contact: _Stored) -> None:
        email = normalise_email(contact.email)
        if email is not None:
            email = contact.email if email == contact.email else email  # share the string
            _hold(self._by_email, email, contact.id)
        phone = normalise_phone(contact.phone)
        if phone is not None:
            phone = contact.phone if phone == contact.phone else phone
            _hold(self._by_phone, phone, contact.id)

    def _unindex(self, contact: _Stored) -> None:
        for key, index in (
            (normalise_email(contact.email), self._by_email),
            (normalise_phone(contact.phone), self._by_phone),
        ):
            if key is not None:
                _release(index, key, contact.id)


def normalise_tags(tags: Iterable[str]) -> frozenset[str]:
    """Trimmed, lower-cased, empty names dropped: what HighLevel stores."""
    # Interned: 100,000 contacts share a few hundred tag names, not 500,000 copies.
    return frozenset(sys.intern(cleaned) for tag in tags if (cleaned := tag.strip().lower()))


def _held(index: Index, key: str) -> Sequence[str]:
    ids = index.get(key, ())
    return (ids,) if isinstance(ids, str) else ids


def _hold(index: Index, key: str, contact_id: str) -> None:
    ids = index.get(key)
    if ids is None:
        index[key] = contact_id
    elif isinstance(ids, str):
        index[key] = [ids, contact_id]
    else:
        ids.append(contact_id)


def _release(index: Index, key: str, contact_id: str) -> None:
    ids = index[key]
    if isinstance(ids, str):
        del index[key]
        return
    ids.remove(contact_id)
    if len(ids) == 1:
        index[key] = ids[0]


def _stored_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return normalise_phone(phone) or phone


_key: Callable[[_Stored], SortKey] = itemgetter(7, 0)  # (date_updated, id)

# Contact's generated __init__ sets each frozen field through object.__setattr__; setting its
# slots directly is the same assignment at about half the cost, and a listing page builds 500.
# (Contact has no __post_init__ that this would skip.)
_NEW_CONTACT = object.__new__
_SET_CONTACT = tuple(Contact.__dict__[name].__set__ for name in _Stored._fields)


def _contact(stored: _Stored) -> Contact:
    contact: Contact = _NEW_CONTACT(Contact)
    set_id, set_first, set_last, set_email, set_phone, set_tags, set_added, set_updated = (
        _SET_CONTACT
    )
    set_id(contact, stored[0])
    set_first(contact, stored[1])
    set_last(contact, stored[2])
    set_email(contact, stored[3])
    set_phone(contact, stored[4])
    set_tags(contact, frozenset(stored[5]))
    set_added(contact, stored[6])
    set_updated(contact, stored[7])
    return contact
