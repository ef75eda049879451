"""Request bodies, as the official spec's DTOs (``apps/contacts.json``), validated strictly.

Unknown top-level properties are refused (``property X should not exist``, as HighLevel's
whitelisting validator does); nested objects (dnd settings, custom fields) ignore extras, because
the spec leaves them open. Fields the spec marks ``nullable`` accept ``null``; the others refuse it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reconciler.sandbox.records import normalise_date_of_birth

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Dto(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Fields whose explicit null the spec does not allow.
    non_nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _refuse_nulls(self) -> _Dto:
        for name in self.non_nullable & self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{name} should not be null")
        return self

    def given(self) -> dict[str, Any]:
        """The fields the client actually sent (null included), as plain data."""
        return self.model_dump(include=self.model_fields_set, exclude_none=False)


class _Nested(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class DndSetting(_Nested):
    status: Literal["active", "inactive", "permanent"]
    message: str | None = None
    code: str | None = None


_V3_DND_KEYS = {
    "call": "Call",
    "email": "Email",
    "sms": "SMS",
    "whatsApp": "WhatsApp",
    "gmb": "GMB",
    "fb": "FB",
}


class DndSettings(_Nested):
    """The v2 channel names; the v3 spec's lower-case names are read as the same channels."""

    @model_validator(mode="before")
    @classmethod
    def _v3_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {_V3_DND_KEYS.get(k, k): v for k, v in data.items()}
        return data

    Call: DndSetting | None = None
    Email: DndSetting | None = None
    SMS: DndSetting | None = None
    WhatsApp: DndSetting | None = None
    GMB: DndSetting | None = None
    FB: DndSetting | None = None


class InboundDndSetting(_Nested):
    status: Literal["active", "inactive"]
    message: str | None = None


class InboundDndSettings(_Nested):
    all: InboundDndSetting | None = None


class CustomFieldInput(_Nested):
    id: str = Field(min_length=1)
    key: str | None = None
    field_value: Any = None


class _ContactFields(_Dto):
    firstName: str | None = None
    lastName: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    postalCode: str | None = None
    website: str | None = None
    timezone: str | None = None
    dnd: bool | None = None
    dndSettings: DndSettings | None = None
    inboundDndSettings: InboundDndSettings | None = None
    tags: list[str] | None = None
    customFields: list[CustomFieldInput] | None = None
    source: str | None = None
    dateOfBirth: Any = None
    country: str | None = None
    assignedTo: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and value != "" and not _EMAIL.match(value.strip()):
            raise ValueError("email must be an email")
        return value.strip() if value else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        digits = re.sub(r"\D", "", value)
        if not 7 <= len(digits) <= 15:
            raise ValueError("phone must be a valid phone number")
        return value

    @field_validator("dateOfBirth")
    @classmethod
    def _date_of_birth(cls, value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, str):
            try:
                normalise_date_of_birth(value)
            except (ValueError, OverflowError, OSError):
                pass
            else:
                return value
        raise ValueError("dateOfBirth must be a valid date (YYYY-MM-DD)")


class CreateContactDto(_ContactFields):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {
            "locationId",
            "gender",
            "postalCode",
            "dnd",
            "dndSettings",
            "inboundDndSettings",
            "tags",
            "customFields",
            "source",
            "country",
            "assignedTo",
        }
    )
    locationId: str
    gender: str | None = None
    companyName: str | None = None


class UpsertContactDto(CreateContactDto):
    non_nullable: ClassVar[frozenset[str]] = CreateContactDto.non_nullable | {
        "createNewIfDuplicateAllowed"
    }
    createNewIfDuplicateAllowed: bool | None = None


class UpdateContactDto(_ContactFields):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {
            "postalCode",
            "dnd",
            "dndSettings",
            "inboundDndSettings",
            "tags",
            "customFields",
            "country",
        }
    )


class TagsDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset({"tags"})
    tags: list[str]


class NoteCreateDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {"userId", "body", "title", "color", "pinned"}
    )
    body: str
    userId: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


class NoteUpdateDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {"userId", "body", "title", "color", "pinned"}
    )
    body: str | None = None
    userId: str | None = None
    title: str | None = None
    color: str | None = None
    pinned: bool | None = None


def _check_due_date(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        normalise_date_of_birth(value)  # the same check: a parseable, representable instant
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError("dueDate must be a valid ISO 8601 date string") from exc
    return value


class TaskCreateDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {"title", "body", "dueDate", "completed", "assignedTo"}
    )
    title: str
    dueDate: str
    completed: bool
    body: str | None = None
    assignedTo: str | None = None

    _due = field_validator("dueDate")(_check_due_date)


class TaskUpdateDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {"title", "body", "dueDate", "completed", "assignedTo"}
    )
    title: str | None = None
    dueDate: str | None = None
    completed: bool | None = None
    body: str | None = None
    assignedTo: str | None = None

    _due = field_validator("dueDate")(_check_due_date)


class TaskStatusDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset({"completed"})
    completed: bool


class FollowersDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset({"followers"})
    followers: list[str]


class WorkflowDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset({"eventStartTime"})
    eventStartTime: str | None = None


class CampaignDto(_Dto):
    """``AddContactToCampaignDto`` has no properties."""


class BulkTagsDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset(
        {"contacts", "tags", "locationId", "removeAllTags"}
    )
    contacts: list[str]
    tags: list[str]
    locationId: str
    removeAllTags: bool | None = None


class BulkBusinessDto(_Dto):
    non_nullable: ClassVar[frozenset[str]] = frozenset({"locationId", "ids"})
    locationId: str
    ids: list[str]
    businessId: str | None

    @field_validator("ids")
    @classmethod
    def _short_ids(cls, value: list[str]) -> list[str]:
        if any(len(v) > 50 for v in value):
            raise ValueError("each value in ids must be shorter than or equal to 50 characters")
        return value
