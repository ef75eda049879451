"""HighLevel JSON to the side's records, and back.

Parsing is strict where a wrong guess would cost data: a contact without a ``tags`` array is
malformed (reading it as "no tags" would make the engine remove every tag on the other side),
and so is one without an id. Strings that HighLevel leaves out are ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import MalformedDataError, PermanentItemError
from reconciler.sides.base import Contact, ContactDraft, CoreField, Note, Rejected, Task, TaskDraft

_EXCERPT = 500
_WIRE_NAMES: dict[CoreField, str] = {
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "phone": "phone",
}


def parse_contact(raw: object) -> Contact:
    data = _object(raw, "contact")
    return Contact(
        id=_id(data),
        first_name=_text(data, "firstName"),
        last_name=_text(data, "lastName"),
        email=_text(data, "email"),
        phone=_text(data, "phone"),
        tags=_tags(data),
        date_added=_time(data, "dateAdded"),
        date_updated=_time(data, "dateUpdated"),
    )


def parse_note(raw: object) -> Note:
    data = _object(raw, "note")
    body = data.get("body")
    if not isinstance(body, str):
        raise MalformedDataError(f"note {data.get('id')!r}: body is not a string")
    contact_id = data.get("contactId")
    if not isinstance(contact_id, str) or not contact_id:
        raise MalformedDataError(f"note {data.get('id')!r}: no contactId")
    return Note(
        id=_id(data),
        contact_id=contact_id,
        body=body,
        date_added=_time(data, "dateAdded"),
        user_id=_text(data, "userId"),
    )


def parse_task(raw: object, contact_id: str) -> Task:
    data = _object(raw, "task")
    title = data.get("title")
    if not isinstance(title, str):
        raise MalformedDataError(f"task {data.get('id')!r}: title is not a string")
    completed = data.get("completed", False)
    if not isinstance(completed, bool):
        raise MalformedDataError(f"task {data.get('id')!r}: completed is not a boolean")
    return Task(
        id=_id(data),
        contact_id=_text(data, "contactId") or contact_id,
        title=title,
        body=_text(data, "body"),
        due_date=_time(data, "dueDate"),
        completed=completed,
        assigned_to=_text(data, "assignedTo"),
    )


def rejected(raw: object, error: Exception) -> Rejected:
    item_id = raw.get("id") if isinstance(raw, dict) else None
    return Rejected(
        item_id=item_id if isinstance(item_id, str) else None,
        error=str(error),
        raw=excerpt(raw),
    )


def excerpt(raw: object) -> str:
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(raw)
    return text[:_EXCERPT]


# -- outgoing ------------------------------------------------------------------------------


def create_body(location_id: str, draft: ContactDraft) -> dict[str, Any]:
    body: dict[str, Any] = {"locationId": location_id}
    for name, wire in _WIRE_NAMES.items():
        value = getattr(draft, name)
        if value is not None:
            body[wire] = value
    if draft.tags:
        body["tags"] = sorted(draft.tags)  # allowed on create; never on PUT
    return body


def update_body(changes: Mapping[CoreField, str | None]) -> dict[str, Any]:
    """Core fields only: ``tags`` on PUT would replace the whole set."""
    unknown = set(changes) - set(_WIRE_NAMES)
    if unknown:
        raise ValueError(f"not core fields: {sorted(unknown)}")
    return {_WIRE_NAMES[name]: value for name, value in changes.items()}


def task_body(draft: TaskDraft) -> dict[str, Any]:
    if draft.due_date is None:
        raise PermanentItemError("HighLevel tasks need a due date")
    body: dict[str, Any] = {
        "title": draft.title,
        "dueDate": format_time(draft.due_date),
        "completed": draft.completed,
    }
    if draft.body is not None:
        body["body"] = draft.body
    if draft.assigned_to is not None:
        body["assignedTo"] = draft.assigned_to
    return body


def format_time(moment: datetime) -> str:
    """HighLevel's form: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- field readers -------------------------------------------------------------------------


def _object(raw: object, kind: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MalformedDataError(f"{kind} is not an object")
    return raw


def _id(data: Mapping[str, Any]) -> str:
    value = data.get("id")
    if not isinstance(value, str) or not value:
        raise MalformedDataError("record without an id")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedDataError(
            f"{data.get('id')!r}: {key} should be a string, got {type(value).__name__}"
        )
    return value or None


def _tags(data: Mapping[str, Any]) -> frozenset[str]:
    value = data.get("tags")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise MalformedDataError(f"{data.get('id')!r}: tags should be an array of strings")
    return frozenset(value)


def _time(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedDataError(f"{data.get('id')!r}: {key} should be a date string")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise MalformedDataError(f"{data.get('id')!r}: {key} is not a date: {value!r}") from exc
