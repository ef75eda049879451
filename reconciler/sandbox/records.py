"""The stored records (contacts, notes, tasks) and how client input is normalised into them.

Records keep HighLevel's own field names so the views (``views.py``) only project them onto the
shapes each endpoint answers with. Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.clock import iso_from_ms, parse_iso


@dataclass
class Contact:
    id: str
    location_id: str
    added_ms: int
    updated_ms: int
    # HighLevel field names: firstName, lastName, email, phone, tags (list), customFields
    # (list of {id, value}), dndSettings (dict)... Absent keys mean "not set".
    fields: dict[str, Any] = field(default_factory=dict)

    def snapshot(self) -> Contact:
        """A copy that later writes cannot reach (the search index keeps these)."""
        copied = dict(self.fields)
        for key in ("tags", "customFields"):
            if key in copied:
                copied[key] = json.loads(json.dumps(copied[key]))
        return Contact(self.id, self.location_id, self.added_ms, self.updated_ms, copied)

    @property
    def tags(self) -> list[str]:
        tags: list[str] = self.fields.get("tags", [])
        return tags

    @property
    def email_key(self) -> str | None:
        email = self.fields.get("email")
        return email.lower() if email else None

    @property
    def phone_key(self) -> str | None:
        phone: str | None = self.fields.get("phone")
        return phone or None

    def full_name(self) -> str:
        parts = [self.fields.get("firstName") or "", self.fields.get("lastName") or ""]
        joined = " ".join(p for p in parts if p).strip()
        return joined or (self.fields.get("name") or "")


@dataclass
class Note:
    id: str
    contact_id: str
    body: str
    added_ms: int
    user_id: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


@dataclass
class Task:
    id: str
    contact_id: str
    title: str
    due_date: str
    completed: bool
    added_ms: int
    body: str | None = None
    assigned_to: str | None = None


def normalise_phone(raw: str) -> str:
    """E.164 as HighLevel stores it: ``+`` and digits; 10 bare digits are taken as US/CA."""
    digits = re.sub(r"\D", "", raw)
    if raw.strip().startswith("+"):
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def normalise_tags(tags: list[str]) -> list[str]:
    """HighLevel stores tags trimmed and lower-cased, without repeats, in first-seen order."""
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = tag.strip().lower()
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)


def normalise_date_of_birth(raw: str) -> str:
    return iso_from_ms(int(parse_iso(raw) * 1000))


def merge_custom_fields(
    current: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Custom fields update by id; an empty or null value clears that field."""
    merged = {cf["id"]: cf["value"] for cf in current}
    for item in updates:
        value = item.get("field_value")
        if value is None or value in ("", [], {}):
            merged.pop(item["id"], None)
        else:
            merged[item["id"]] = value
    return [{"id": key, "value": value} for key, value in merged.items()]


def apply_contact_input(contact: Contact, given: dict[str, Any]) -> set[str]:
    """Apply validated client input to a contact; return the names of fields that changed.

    ``given`` holds only the properties the client sent: ``null`` clears a field.
    """
    before = json.dumps(contact.fields, sort_keys=True)
    old = dict(contact.fields)
    data = dict(given)
    name = data.pop("name", None) if "name" in data else None
    if name and "firstName" not in data and "lastName" not in data:
        first, _, last = name.strip().partition(" ")
        data["firstName"] = first or None
        data["lastName"] = last.strip() or None
    for key, value in data.items():
        if value is None or (isinstance(value, str) and value == "" and key != "tags"):
            contact.fields.pop(key, None)
            continue
        if key == "phone":
            value = normalise_phone(value)
        elif key == "tags":
            value = normalise_tags(value)
        elif key == "dateOfBirth":
            value = normalise_date_of_birth(value)
        elif key == "customFields":
            value = merge_custom_fields(contact.fields.get("customFields", []), value)
            if not value:
                contact.fields.pop(key, None)
                continue
        elif key in ("dndSettings", "inboundDndSettings"):
            value = {
                k: {f: v for f, v in s.items() if v is not None}
                for k, s in value.items()
                if s is not None
            }
        contact.fields[key] = value
    if json.dumps(contact.fields, sort_keys=True) == before:
        return set()
    keys = set(old) | set(contact.fields)
    return {k for k in keys if old.get(k) != contact.fields.get(k)}
