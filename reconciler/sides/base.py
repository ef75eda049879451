"""The side interface: the only thing the engine knows about a system it syncs.

A *side* is one account of one system (a HighLevel location, the in-memory side, later other
apps). The engine never imports httpx: it calls these async methods and reads these records.
Errors are the classes of ``reconciler.errors``; implementations translate their own
exceptions at the boundary.

Records are normalised: field names are the engine's (``first_name``...), tags are a frozenset of
names as the side spells them (comparison keys are the engine's business), timestamps are aware
UTC datetimes or ``None`` where the side does not provide them (HighLevel notes have no update
time, so nothing here may rely on one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from reconciler.errors import SideError

CoreField = Literal["first_name", "last_name", "email", "phone"]
CORE_FIELDS: tuple[CoreField, ...] = ("first_name", "last_name", "email", "phone")

SideName = Literal["a", "b"]


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: frozenset[str] = frozenset()
    date_added: datetime | None = None
    date_updated: datetime | None = None

    def core(self) -> dict[CoreField, str | None]:
        return {name: getattr(self, name) for name in CORE_FIELDS}


@dataclass(frozen=True, slots=True)
class ContactDraft:
    """What the engine asks a side to create: core fields and the initial tag set."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    contact_id: str
    body: str
    date_added: datetime | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    contact_id: str
    title: str
    body: str | None = None
    due_date: datetime | None = None
    completed: bool = False
    assigned_to: str | None = None


@dataclass(frozen=True, slots=True)
class TaskDraft:
    title: str
    body: str | None = None
    due_date: datetime | None = None
    completed: bool = False
    assigned_to: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """An upstream item we could not understand: parked with its error, the listing goes on."""

    item_id: str | None
    error: str
    raw: str  # a bounded excerpt of what the side sent, for the operator


@dataclass(frozen=True, slots=True)
class ContactPage:
    """One page of a contact listing.

    ``complete`` is False when the side told us (or we detected) that this page may miss
    records: a truncated page, a short page before the end, a lagging index. A listing is
    complete only if every page was complete and the iterator ended normally.
    """

    contacts: Sequence[Contact]
    complete: bool = True
    rejected: Sequence[Rejected] = ()


@dataclass(frozen=True, slots=True)
class ContactNotes:
    """The notes of one contact, or the error that stopped us from reading them."""

    contact_id: str
    notes: Sequence[Note] | None
    error: SideError | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    read_only: bool = False
    supports_notes: bool = True
    supports_tasks: bool = True
    supports_delete: bool = True
    supports_incremental: bool = True
    # HighLevel notes carry no update time: engines must compare content, never timestamps.
    notes_have_update_time: bool = False
    # Upper bound of concurrent requests the side wants from one caller.
    max_concurrency: int = 8


@dataclass(slots=True)
class SideUsage:
    """Request accounting, readable after (or during) a run."""

    requests: dict[str, int] = field(default_factory=dict)  # endpoint label -> count
    retries: int = 0
    rate_limited: int = 0  # 429s seen
    errors: dict[str, int] = field(default_factory=dict)  # error class name -> count
    token_refreshes: int = 0
    budget_remaining_daily: int | None = None
    budget_reserve_reached: bool = False

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


@runtime_checkable
class Side(Protocol):
    """One account of one system. All methods are async and may raise ``SideError``s."""

    @property
    def name(self) -> str:
        """A label for logs and accounting (e.g. ``highlevel:<locationId>``)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def stream_contacts(self, *, since: datetime | None = None) -> AsyncIterator[ContactPage]:
        """All contacts, or those changed at or after ``since`` (a watermark), page by page."""
        ...

    async def get_contact(self, contact_id: str) -> Contact:
        """One contact; ``NotFoundError`` when it does not exist (deletion confirmation)."""
        ...

    async def find_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> Sequence[Contact]:
        """Contacts whose email (normalised) or phone (E.164) equals the one given."""
        ...

    async def create_contact(self, draft: ContactDraft) -> Contact:
        """Create; a duplicate refused by the side raises ``DuplicateContactError``."""
        ...

    async def update_contact(
        self, contact_id: str, changes: Mapping[CoreField, str | None]
    ) -> Contact:
        """Change core fields only. Never touches tags (those go through the tag deltas)."""
        ...

    async def delete_contact(self, contact_id: str) -> None: ...

    async def add_tags(self, contact_id: str, tags: frozenset[str]) -> None: ...

    async def remove_tags(self, contact_id: str, tags: frozenset[str]) -> None: ...

    def list_notes(self, contact_ids: Sequence[str]) -> AsyncIterator[ContactNotes]:
        """Notes of many contacts, fetched concurrently within the side's budget.

        Yields one ``ContactNotes`` per id (in any order); a failure for one contact is
        reported in that item, never raised, unless it is fatal for the run.
        """
        ...

    async def get_notes(self, contact_id: str) -> Sequence[Note]: ...

    async def create_note(self, contact_id: str, body: str) -> Note: ...

    async def update_note(self, contact_id: str, note_id: str, body: str) -> Note: ...

    async def delete_note(self, contact_id: str, note_id: str) -> None: ...

    async def list_tasks(self, contact_id: str) -> Sequence[Task]: ...

    async def create_task(self, contact_id: str, draft: TaskDraft) -> Task: ...

    async def update_task(self, contact_id: str, task_id: str, draft: TaskDraft) -> Task: ...

    async def complete_task(self, contact_id: str, task_id: str, completed: bool) -> Task: ...

    async def delete_task(self, contact_id: str, task_id: str) -> None: ...

    def usage(self) -> SideUsage:
        """Requests spent so far, per endpoint, and what is left of the budget."""
        ...

    async def aclose(self) -> None: ...
