"""One location's data and every write to it, with the rules HighLevel applies.

Writes are synchronous (no ``await`` inside), so a write is either fully applied or not at all,
whatever faults the gateway injects around it. Each write updates the email/phone indexes, queues
the search snapshot, and reports webhook events to the listener.

Rules kept here:
- duplicates: unless the location allows them, a create (or an update) whose email, then phone,
  already belongs to another contact is refused with 400 and ``meta.contactId``/``matchingField``;
- ``tags`` on PUT/upsert replace the whole set; the tag endpoints add/remove deltas;
- ``dateUpdated`` moves when a contact field or its tags actually change (a no-op write leaves it
  and sends no webhook); note writes move it only when ``note_changes_touch_contact`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import LocationSettings
from reconciler.sandbox.errors import bad_request, not_found_entity
from reconciler.sandbox.ids import IdFactory
from reconciler.sandbox.records import (
    Contact,
    Note,
    Task,
    apply_contact_input,
    normalise_phone,
    normalise_tags,
)
from reconciler.sandbox.search import SearchIndex
from reconciler.sandbox.views import contact_event, note_event, task_event

Listener = Callable[[str, dict[str, Any]], None]
DUPLICATE_MESSAGE = "This location does not allow duplicated contacts."


class Location:
    def __init__(
        self,
        location_id: str,
        name: str,
        settings: LocationSettings,
        *,
        clock: Clock,
        ids: IdFactory,
        listener: Listener | None = None,
    ) -> None:
        self.id = location_id
        self.name = name
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.listener: Listener = listener or (lambda _event, _payload: None)
        self.contacts: dict[str, Contact] = {}
        self.notes: dict[str, dict[str, Note]] = {}
        self.tasks: dict[str, dict[str, Task]] = {}
        self.by_email: dict[str, set[str]] = {}
        self.by_phone: dict[str, set[str]] = {}
        # Campaign and workflow memberships: kept so add/remove answer truthfully, not
        # persisted (nothing reconciles them).
        self.campaigns: dict[str, set[str]] = {}
        self.workflows: dict[str, set[str]] = {}
        self.index = SearchIndex()

    # ----- lookups -------------------------------------------------------------------------
    def contact(self, contact_id: str) -> Contact:
        found = self.contacts.get(contact_id)
        if found is None:
            raise not_found_entity("Contact", contact_id)
        return found

    def note(self, contact_id: str, note_id: str) -> Note:
        self.contact(contact_id)
        found = self.notes.get(contact_id, {}).get(note_id)
        if found is None:
            raise not_found_entity("Note", note_id)
        return found

    def task(self, contact_id: str, task_id: str) -> Task:
        self.contact(contact_id)
        found = self.tasks.get(contact_id, {}).get(task_id)
        if found is None:
            raise not_found_entity("Task", task_id)
        return found

    def find_by_email(self, email: str | None) -> Contact | None:
        ids = self.by_email.get(email.lower(), set()) if email else set()
        return self.contacts[min(ids)] if ids else None

    def find_by_phone(self, phone: str | None) -> Contact | None:
        ids = self.by_phone.get(normalise_phone(phone), set()) if phone else set()
        return self.contacts[min(ids)] if ids else None

    def search_view(self) -> SearchIndex:
        """The index as search sees it now (due snapshots applied)."""
        self.index.apply_due(self.clock.now())
        return self.index

    # ----- bookkeeping ---------------------------------------------------------------------
    def _unindex(self, contact: Contact) -> None:
        for table, key in ((self.by_email, contact.email_key), (self.by_phone, contact.phone_key)):
            if key and key in table:
                table[key].discard(contact.id)
                if not table[key]:
                    del table[key]

    def _index(self, contact: Contact) -> None:
        if contact.email_key:
            self.by_email.setdefault(contact.email_key, set()).add(contact.id)
        if contact.phone_key:
            self.by_phone.setdefault(contact.phone_key, set()).add(contact.id)

    def _stage(self, contact: Contact, *, deleted: bool = False, lag: bool = True) -> None:
        snapshot = None if deleted else contact.snapshot()
        delay = self.settings.search_lag_seconds if lag else 0.0
        self.index.stage(contact.id, snapshot, self.clock.now(), delay)

    def _touch(self, contact: Contact) -> None:
        # Strictly increasing per contact, so "changed since" filters never miss a write made
        # within the same millisecond as the previous one.
        contact.updated_ms = max(self.clock.now_ms(), contact.updated_ms + 1)

    def _check_duplicates(self, candidate: Contact, *, exclude: str | None) -> None:
        if self.settings.allow_duplicates:
            return
        for field, other in (
            ("email", self.find_by_email_except(candidate.email_key, exclude)),
            ("phone", self.find_by_phone_except(candidate.phone_key, exclude)),
        ):
            if other is not None:
                raise bad_request(
                    DUPLICATE_MESSAGE,
                    meta={
                        "contactName": other.full_name(),
                        "contactId": other.id,
                        "matchingField": field,
                    },
                )

    def find_by_email_except(self, key: str | None, exclude: str | None) -> Contact | None:
        ids = sorted(self.by_email.get(key, set()) - {exclude}) if key else []
        return self.contacts[ids[0]] if ids else None

    def find_by_phone_except(self, key: str | None, exclude: str | None) -> Contact | None:
        ids = sorted(self.by_phone.get(key, set()) - {exclude}) if key else []
        return self.contacts[ids[0]] if ids else None

    # ----- contacts ------------------------------------------------------------------------
    def create_contact(
        self, given: dict[str, Any], *, added_ms: int | None = None, emit: bool = True
    ) -> Contact:
        now = self.clock.now_ms() if added_ms is None else added_ms
        contact = Contact(self.ids.new(), self.id, now, now, {"tags": [], "type": "lead"})
        apply_contact_input(contact, given)
        self._check_duplicates(contact, exclude=None)
        self.contacts[contact.id] = contact
        self._index(contact)
        # Seeded contacts (emit=False) exist before anyone searches: no lag for them.
        self._stage(contact, lag=emit)
        if emit:
            self.listener("ContactCreate", contact_event("ContactCreate", contact))
        return contact

    def update_contact(self, contact_id: str, given: dict[str, Any]) -> Contact:
        contact = self.contact(contact_id)
        trial = contact.snapshot()
        changed = apply_contact_input(trial, given)
        if not changed:
            return contact
        self._check_duplicates(trial, exclude=contact.id)
        self._unindex(contact)
        contact.fields = trial.fields
        self._touch(contact)
        self._index(contact)
        self._stage(contact)
        if changed - {"tags"}:
            self.listener("ContactUpdate", contact_event("ContactUpdate", contact))
        if "tags" in changed:
            self.listener("ContactTagUpdate", contact_event("ContactTagUpdate", contact))
        return contact

    def upsert_contact(self, given: dict[str, Any], *, force_new: bool) -> tuple[Contact, bool]:
        """Match by email, then phone; update the match or create. Answers ``(contact, new)``."""
        data = dict(given)
        if force_new and self.settings.allow_duplicates:
            return self.create_contact(data), True
        match = self.find_by_email(data.get("email")) or self.find_by_phone(data.get("phone"))
        if match is None:
            return self.create_contact(data), True
        if data.get("phone") and not self.settings.allow_duplicates:
            owner = self.find_by_phone_except(normalise_phone(data["phone"]), match.id)
            if owner is not None:
                # The documented rule: update the first match, ignore the second field.
                data.pop("phone")
        if data.get("email") and not self.settings.allow_duplicates:
            owner = self.find_by_email_except(data["email"].lower(), match.id)
            if owner is not None:
                data.pop("email")
        return self.update_contact(match.id, data), False

    def delete_contact(self, contact_id: str) -> None:
        contact = self.contact(contact_id)
        del self.contacts[contact_id]
        self._unindex(contact)
        self.notes.pop(contact_id, None)
        self.tasks.pop(contact_id, None)
        self.campaigns.pop(contact_id, None)
        self.workflows.pop(contact_id, None)
        self._stage(contact, deleted=True)
        self.listener("ContactDelete", contact_event("ContactDelete", contact))

    def change_tags(self, contact_id: str, tags: list[str], *, add: bool) -> Contact:
        contact = self.contact(contact_id)
        delta = normalise_tags(tags)
        if add:
            merged = contact.tags + [t for t in delta if t not in contact.tags]
        else:
            merged = [t for t in contact.tags if t not in delta]
        if merged == contact.tags:
            return contact
        contact.fields["tags"] = merged
        self._touch(contact)
        self._stage(contact)
        self.listener("ContactTagUpdate", contact_event("ContactTagUpdate", contact))
        return contact

    def change_followers(
        self, contact_id: str, followers: list[str], *, add: bool
    ) -> tuple[list[str], list[str]]:
        """Add or remove followers; answers (all followers, the ones actually changed)."""
        contact = self.contact(contact_id)
        current: list[str] = list(contact.fields.get("followers", []))
        if add:
            changed = [f for f in dict.fromkeys(followers) if f not in current]
            result = current + changed
        else:
            changed = [f for f in current if f in followers]
            result = [f for f in current if f not in followers]
        if changed:
            if result:
                contact.fields["followers"] = result
            else:
                contact.fields.pop("followers", None)
            self._touch(contact)
            self._stage(contact)
        return result, changed

    def set_business(self, contact_id: str, business_id: str | None) -> None:
        contact = self.contact(contact_id)
        if contact.fields.get("businessId") == business_id:
            return
        if business_id is None:
            contact.fields.pop("businessId", None)
        else:
            contact.fields["businessId"] = business_id
        self._touch(contact)
        self._stage(contact)
        self.listener("ContactUpdate", contact_event("ContactUpdate", contact))

    # ----- notes ---------------------------------------------------------------------------
    def _note_touched(self, contact_id: str) -> None:
        if self.settings.note_changes_touch_contact:
            contact = self.contacts[contact_id]
            self._touch(contact)
            self._stage(contact)

    def list_notes(self, contact_id: str) -> list[Note]:
        self.contact(contact_id)
        notes = self.notes.get(contact_id, {}).values()
        return sorted(notes, key=lambda n: (-n.added_ms, n.id))

    def create_note(
        self,
        contact_id: str,
        given: dict[str, Any],
        *,
        added_ms: int | None = None,
        emit: bool = True,
    ) -> Note:
        self.contact(contact_id)
        note = Note(
            id=self.ids.new(),
            contact_id=contact_id,
            body=given["body"],
            added_ms=self.clock.now_ms() if added_ms is None else added_ms,
            user_id=given.get("userId"),
            title=given.get("title"),
            color=given.get("color"),
            pinned=given.get("pinned"),
        )
        self.notes.setdefault(contact_id, {})[note.id] = note
        if emit:
            self._note_touched(contact_id)
            self.listener("NoteCreate", note_event("NoteCreate", self.id, note))
        return note

    def update_note(self, contact_id: str, note_id: str, given: dict[str, Any]) -> Note:
        note = self.note(contact_id, note_id)
        before = (note.body, note.user_id, note.title, note.color, note.pinned)
        note.body = given.get("body", note.body)
        note.user_id = given.get("userId", note.user_id)
        note.title = given.get("title", note.title)
        note.color = given.get("color", note.color)
        note.pinned = given.get("pinned", note.pinned)
        if before != (note.body, note.user_id, note.title, note.color, note.pinned):
            self._note_touched(contact_id)
            self.listener("NoteUpdate", note_event("NoteUpdate", self.id, note))
        return note

    def delete_note(self, contact_id: str, note_id: str) -> None:
        note = self.note(contact_id, note_id)
        del self.notes[contact_id][note_id]
        self._note_touched(contact_id)
        self.listener("NoteDelete", note_event("NoteDelete", self.id, note))

    # ----- tasks ---------------------------------------------------------------------------
    def list_tasks(self, contact_id: str) -> list[Task]:
        self.contact(contact_id)
        return sorted(self.tasks.get(contact_id, {}).values(), key=lambda t: (t.added_ms, t.id))

    def create_task(
        self,
        contact_id: str,
        given: dict[str, Any],
        *,
        added_ms: int | None = None,
        emit: bool = True,
    ) -> Task:
        self.contact(contact_id)
        task = Task(
            id=self.ids.new(),
            contact_id=contact_id,
            title=given["title"],
            due_date=given["dueDate"],
            completed=given["completed"],
            added_ms=self.clock.now_ms() if added_ms is None else added_ms,
            body=given.get("body"),
            assigned_to=given.get("assignedTo"),
        )
        self.tasks.setdefault(contact_id, {})[task.id] = task
        if emit:
            self.listener("TaskCreate", task_event("TaskCreate", self.id, task))
            if task.completed:
                self.listener("TaskComplete", task_event("TaskComplete", self.id, task))
        return task

    def update_task(self, contact_id: str, task_id: str, given: dict[str, Any]) -> Task:
        task = self.task(contact_id, task_id)
        was_completed = task.completed
        task.title = given.get("title", task.title)
        task.body = given.get("body", task.body)
        task.due_date = given.get("dueDate", task.due_date)
        task.assigned_to = given.get("assignedTo", task.assigned_to)
        task.completed = given.get("completed", task.completed)
        # HighLevel has no TaskUpdate event; completing a task is the one it reports.
        if task.completed and not was_completed:
            self.listener("TaskComplete", task_event("TaskComplete", self.id, task))
        return task

    def delete_task(self, contact_id: str, task_id: str) -> None:
        task = self.task(contact_id, task_id)
        del self.tasks[contact_id][task_id]
        self.listener("TaskDelete", task_event("TaskDelete", self.id, task))
