"""Projections of the records onto the spec's response and webhook shapes.

Keys whose value is unknown are left out rather than sent as ``null``: the spec marks none of
these response properties nullable. Custom field values are strings in ``CustomFieldSchema``,
so non-string values (numbers, option lists) are rendered as JSON text in API answers; webhook
payloads, whose schema allows numbers, arrays and objects, carry them unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.sandbox.clock import iso_from_ms
from reconciler.sandbox.records import Contact, Note, Task

_PLAIN_FIELDS = (
    "firstName",
    "lastName",
    "email",
    "timezone",
    "companyName",
    "phone",
    "dnd",
    "dndSettings",
    "type",
    "source",
    "assignedTo",
    "address1",
    "city",
    "state",
    "country",
    "postalCode",
    "website",
    "dateOfBirth",
    "businessId",
)
# Accepted on writes (CreateContactDto, UpdateContactDto) and kept, but no response schema of the
# spec has them: the answers leave them out, as the service documents its answers.
_WRITE_ONLY_FIELDS = ("gender", "inboundDndSettings")
# CreateContactSchema (the create answer) documents neither of these, unlike GetContectByIdSchema.
_NOT_IN_CREATE_ANSWER = ("name", "timezone")


def _custom_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def contact_view(contact: Contact) -> dict[str, Any]:
    """``GetContectByIdSchema`` (get, update and upsert answers)."""
    f = contact.fields
    view: dict[str, Any] = {"id": contact.id, "locationId": contact.location_id}
    for key in _PLAIN_FIELDS:
        if f.get(key) is not None:
            view[key] = f[key]
    name = contact.full_name()
    if name:
        view["name"] = name
        view["fullNameLowerCase"] = name.lower()
    if f.get("firstName"):
        view["firstNameLowerCase"] = f["firstName"].lower()
    if f.get("lastName"):
        view["lastNameLowerCase"] = f["lastName"].lower()
    if f.get("email"):
        view["emailLowerCase"] = f["email"].lower()
    view["tags"] = list(contact.tags)
    view["customFields"] = [
        {"id": cf["id"], "value": _custom_value(cf["value"])} for cf in f.get("customFields", [])
    ]
    view["dateAdded"] = iso_from_ms(contact.added_ms)
    view["dateUpdated"] = iso_from_ms(contact.updated_ms)
    return view


def created_contact_view(contact: Contact) -> dict[str, Any]:
    """``CreateContactSchema`` (the create answer)."""
    view = contact_view(contact)
    for key in _NOT_IN_CREATE_ANSWER:
        view.pop(key, None)
    view["deleted"] = False
    return view


def list_item_view(contact: Contact) -> dict[str, Any]:
    """``ContactsSearchSchema`` (deprecated ``GET /contacts/``, business contacts) with the rest
    of the contact as ``GetContectByIdSchema`` documents it: the list schema alone lacks even the
    names (a documented deviation in tests/conformance/deviations.py)."""
    view = contact_view(contact)
    view["followers"] = list(contact.fields.get("followers", []))
    return view


def search_hit_view(contact: Contact, search_after: list[str]) -> dict[str, Any]:
    """``Contact`` of the 2025-09-08 spec (a ``POST /contacts/search`` hit)."""
    f = contact.fields
    view: dict[str, Any] = {"id": contact.id, "locationId": contact.location_id}
    for key in (
        "firstName",
        "lastName",
        "email",
        "phone",
        "companyName",
        "country",
        "city",
        "state",
        "postalCode",
        "source",
        "type",
        "dnd",
        "dndSettings",
        "dateOfBirth",
        "assignedTo",
        "businessId",
    ):
        # Not timezone nor website: the search hit schema (``Contact``) has neither.
        if f.get(key) is not None:
            view[key] = f[key]
    if f.get("address1"):
        view["address"] = f["address1"]
    if f.get("firstName"):
        view["firstNameLowerCase"] = f["firstName"].lower()
    if f.get("lastName"):
        view["lastNameLowerCase"] = f["lastName"].lower()
    if f.get("email"):
        view["validEmail"] = True
    view["tags"] = list(contact.tags)
    view["customFields"] = [
        {"id": cf["id"], "value": _custom_value(cf["value"])} for cf in f.get("customFields", [])
    ]
    view["additionalEmails"] = []
    view["additionalPhones"] = []
    view["followers"] = list(contact.fields.get("followers", []))
    view["dateAdded"] = iso_from_ms(contact.added_ms)
    view["dateUpdated"] = iso_from_ms(contact.updated_ms)
    view["searchAfter"] = search_after
    return view


def note_view(note: Note) -> dict[str, Any]:
    """``GetNoteSchema``: no ``dateUpdated``, as the real API."""
    view: dict[str, Any] = {
        "id": note.id,
        "body": note.body,
        "dateAdded": iso_from_ms(note.added_ms),
        "contactId": note.contact_id,
    }
    for key, value in (
        ("userId", note.user_id),
        ("title", note.title),
        ("color", note.color),
        ("pinned", note.pinned),
    ):
        if value is not None:
            view[key] = value
    return view


def task_view(task: Task) -> dict[str, Any]:
    """``TaskSchema``: no timestamps besides ``dueDate``, as the real API."""
    view: dict[str, Any] = {
        "id": task.id,
        "title": task.title,
        "dueDate": task.due_date,
        "completed": task.completed,
        "contactId": task.contact_id,
    }
    if task.body is not None:
        view["body"] = task.body
    if task.assigned_to is not None:
        view["assignedTo"] = task.assigned_to
    return view


_WEBHOOK_CONTACT_FIELDS = (
    "address1",
    "city",
    "companyName",
    "country",
    "source",
    "dateOfBirth",
    "dnd",
    "email",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "state",
    "website",
    "assignedTo",
)


def contact_event(event: str, contact: Contact) -> dict[str, Any]:
    """ContactCreate/Update/Delete/TagUpdate payload (no ``dateUpdated``, as documented)."""
    f = contact.fields
    payload: dict[str, Any] = {"type": event, "locationId": contact.location_id, "id": contact.id}
    for key in _WEBHOOK_CONTACT_FIELDS:
        if f.get(key) is not None:
            payload[key] = f[key]
    name = contact.full_name()
    if name:
        payload["name"] = name
    payload["dateAdded"] = iso_from_ms(contact.added_ms)
    payload["tags"] = list(contact.tags)
    payload["attachments"] = []
    # The event schema allows string, number, array and object values: not booleans.
    payload["customFields"] = [
        {"id": cf["id"], "value": str(cf["value"]).lower()}
        if isinstance(cf["value"], bool)
        else dict(cf)
        for cf in f.get("customFields", [])
    ]
    return payload


def note_event(event: str, location_id: str, note: Note) -> dict[str, Any]:
    return {
        "type": event,
        "locationId": location_id,
        "id": note.id,
        "body": note.body,
        "contactId": note.contact_id,
        "dateAdded": iso_from_ms(note.added_ms),
    }


def task_event(event: str, location_id: str, task: Task) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": event,
        "locationId": location_id,
        "id": task.id,
        "contactId": task.contact_id,
        "title": task.title,
        "dateAdded": iso_from_ms(task.added_ms),
        "dueDate": task.due_date,
    }
    if task.body is not None:
        payload["body"] = task.body
    if task.assigned_to is not None:
        payload["assignedTo"] = task.assigned_to
    return payload
