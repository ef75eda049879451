"""``HighLevelSide``: one HighLevel location behind the ``Side`` interface.

Reads and idempotent writes are retried by the HTTP boundary (``client.py``). Creates are not
idempotent: when one ends uncertainly (5xx, timeout, or a 422 that HighLevel is known to answer
after creating anyway) this module LOOKS for its effect before trying again, so a retry never
makes a second copy:

- contacts: searched by email, then phone (normalised; phone ``eq`` is known to miss, so a
  free-text search by digits follows), or by name without either; then, since search lags
  writes, the live duplicate check; a hit counts only if every core field matches the draft;
- notes: the contact's notes are read and one with the same body is taken (the newest);
- tasks: likewise, by title, body and due date.

Tags are only ever written by delta (``POST``/``DELETE /contacts/{id}/tags``): ``tags`` on a
``PUT`` would replace the whole set and lose concurrent edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx

from reconciler.errors import (
    AuthError,
    DuplicateContactError,
    FatalRunError,
    MalformedDataError,
    NotFoundError,
    PermanentItemError,
    SideError,
    UncertainWriteError,
)
from reconciler.sides import labels
from reconciler.sides.base import (
    Capabilities,
    Contact,
    ContactDraft,
    ContactNotes,
    ContactPage,
    CoreField,
    Note,
    SideUsage,
    Task,
    TaskDraft,
)
from reconciler.sides.highlevel.auth import Credentials
from reconciler.sides.highlevel.client import LocationClient, segment
from reconciler.sides.highlevel.clock import Clock, SystemClock
from reconciler.sides.highlevel.paging import MAX_PAGE_LIMIT, ContactSearch
from reconciler.sides.highlevel.rate import RateBudget
from reconciler.sides.highlevel.records import (
    create_body,
    format_time,
    parse_contact,
    parse_note,
    parse_task,
    task_body,
    update_body,
)
from reconciler.sides.highlevel.retry import RetryPolicy
from reconciler.sides.normalise import normalise_email, normalise_phone

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
_LOOKUP_PAGE_LIMIT = 100
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ListingPolicy:
    """How contacts and notes are listed.

    ``since_filter``: ``"server"`` asks the search for ``dateUpdated >= since - overlap`` (the
    filter integrators use, not confirmed by HighLevel, hence the overlap); ``"client"`` lists
    everything and filters here (a full scan, for when the server filter cannot be trusted).
    """

    page_limit: int = MAX_PAGE_LIMIT
    overlap: timedelta = timedelta(minutes=5)
    since_filter: Literal["server", "client"] = "server"
    notes_concurrency: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.page_limit <= MAX_PAGE_LIMIT:
            raise ValueError(f"ListingPolicy.page_limit must be within 1..{MAX_PAGE_LIMIT}")
        if self.notes_concurrency < 1:
            raise ValueError("ListingPolicy.notes_concurrency must be at least 1")
        if self.overlap < timedelta(0):
            raise ValueError("ListingPolicy.overlap must not be negative")


class HighLevelSide:
    """The production connector for one location, on an injected ``httpx.AsyncClient``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        location_id: str,
        credentials: Credentials,
        base_url: str = DEFAULT_BASE_URL,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        listing: ListingPolicy | None = None,
        clock: Clock | None = None,
        capabilities: Capabilities | None = None,
    ) -> None:
        if not location_id:
            raise ValueError("location_id must not be empty")
        self._location_id = location_id
        self._name = f"highlevel:{location_id}"
        self._clock = clock or SystemClock()
        self._listing = listing or ListingPolicy()
        self._retry = retry or RetryPolicy()
        self._credentials = credentials
        self._budget = budget or RateBudget(clock=self._clock, name=self._name)
        self._capabilities = capabilities or Capabilities(
            max_concurrency=self._listing.notes_concurrency
        )
        self._usage = SideUsage()
        self._client = LocationClient(
            http,
            base_url=base_url,
            credentials=credentials,
            budget=self._budget,
            retry=self._retry,
            clock=self._clock,
            usage=self._usage,
            side_name=self._name,
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def location_id(self) -> str:
        return self._location_id

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def budget(self) -> RateBudget:
        return self._budget

    def usage(self) -> SideUsage:
        usage = self._usage
        usage.token_refreshes = self._credentials.refreshes
        if usage.token_refreshes:
            usage.requests[labels.OAUTH_REFRESH] = usage.token_refreshes
        usage.budget_remaining_daily = self._budget.daily_remaining
        usage.budget_reserve_reached = self._budget.reserve_reached
        return usage

    async def aclose(self) -> None:
        """Nothing to release: the ``httpx.AsyncClient`` belongs to whoever injected it."""

    # -- contacts ----------------------------------------------------------------------------

    async def stream_contacts(self, *, since: datetime | None = None) -> AsyncIterator[ContactPage]:
        floor = since - self._listing.overlap if since is not None else None
        server_side = floor is not None and self._listing.since_filter == "server"
        filters = (
            [{"field": "dateUpdated", "operator": "range", "value": {"gte": format_time(floor)}}]
            if server_side and floor is not None
            else []
        )
        search = self._search(filters=filters, page_limit=self._listing.page_limit)
        async for page in search.pages():
            if floor is None or server_side:
                yield page
                continue
            kept = [c for c in page.contacts if c.date_updated is None or c.date_updated >= floor]
            yield ContactPage(contacts=kept, complete=page.complete, rejected=page.rejected)

    async def get_contact(self, contact_id: str) -> Contact:
        data = await self._client.call(
            "GET", f"/contacts/{segment(contact_id)}", label=labels.GET_CONTACT
        )
        return parse_contact(data.get("contact"))

    async def find_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> Sequence[Contact]:
        found: dict[str, Contact] = {}
        email_key = normalise_email(email)
        if email_key is not None:
            hits = await self._search_all(
                filters=[{"field": "email", "operator": "eq", "value": email_key}]
            )
            found.update((c.id, c) for c in hits if normalise_email(c.email) == email_key)
        phone_key = normalise_phone(phone)
        if phone_key is not None:
            for c in await self._find_by_phone(phone_key):
                found[c.id] = c
        return [found[i] for i in sorted(found)]

    async def create_contact(self, draft: ContactDraft) -> Contact:
        body = create_body(self._location_id, draft)

        async def send() -> Contact:
            data = await self._client.call(
                "POST", "/contacts/", label=labels.CREATE_CONTACT, body=body, idempotent=False
            )
            return parse_contact(data.get("contact"))

        return await self._create(send, lambda: self._find_created_contact(draft))

    async def update_contact(
        self, contact_id: str, changes: Mapping[CoreField, str | None]
    ) -> Contact:
        if not changes:
            return await self.get_contact(contact_id)
        data = await self._client.call(
            "PUT",
            f"/contacts/{segment(contact_id)}",
            label=labels.UPDATE_CONTACT,
            body=update_body(changes),
        )
        return parse_contact(data.get("contact"))

    async def delete_contact(self, contact_id: str) -> None:
        await self._client.call(
            "DELETE", f"/contacts/{segment(contact_id)}", label=labels.DELETE_CONTACT
        )

    async def add_tags(self, contact_id: str, tags: frozenset[str]) -> None:
        if tags:  # an empty delta is no request at all
            await self._client.call(
                "POST",
                f"/contacts/{segment(contact_id)}/tags",
                label=labels.ADD_TAGS,
                body={"tags": sorted(tags)},
            )

    async def remove_tags(self, contact_id: str, tags: frozenset[str]) -> None:
        if tags:
            await self._client.call(
                "DELETE",
                f"/contacts/{segment(contact_id)}/tags",
                label=labels.REMOVE_TAGS,
                body={"tags": sorted(tags)},
            )

    # -- notes -------------------------------------------------------------------------------

    async def list_notes(self, contact_ids: Sequence[str]) -> AsyncIterator[ContactNotes]:
        """One GET per contact, ``notes_concurrency`` at a time, paced by the budget.

        A failure for one contact is reported in its ``ContactNotes``; a failure that ends the
        run for this side (budget reserve, cursor loop, credentials) is raised.
        """
        ids = list(contact_ids)
        if not ids:
            return
        results: asyncio.Queue[ContactNotes | None] = asyncio.Queue(
            maxsize=2 * self._listing.notes_concurrency
        )
        pending = iter(ids)
        fatal: list[Exception] = []

        async def worker() -> None:
            try:
                for contact_id in pending:  # one shared iterator: each id is taken once
                    if fatal:
                        return  # no new request after a fatal error; in-flight ones finish
                    try:
                        item = ContactNotes(contact_id, await self.get_notes(contact_id))
                    except (FatalRunError, AuthError) as exc:
                        fatal.append(exc)
                        return
                    except SideError as exc:
                        item = ContactNotes(contact_id, None, error=exc)
                    except Exception as exc:  # noqa: BLE001 -- a bug: re-raised below
                        fatal.append(exc)
                        return
                    await results.put(item)
            finally:
                await results.put(None)  # this worker is done

        workers = [
            asyncio.create_task(worker())
            for _ in range(min(self._listing.notes_concurrency, len(ids)))
        ]
        try:
            running = len(workers)
            while running:
                item = await results.get()
                if item is None:
                    running -= 1
                else:
                    # Yielded even after a fatal error elsewhere: its request was paid for.
                    yield item
            if fatal:
                raise fatal[0]
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def get_notes(self, contact_id: str) -> Sequence[Note]:
        data = await self._client.call(
            "GET", f"/contacts/{segment(contact_id)}/notes", label=labels.LIST_NOTES
        )
        raw = data.get("notes")
        if not isinstance(raw, list):
            raise MalformedDataError(f"notes of {contact_id}: no notes array")
        # One bad note makes the whole list unknown: a partial list would read as deletions.
        return [parse_note(item) for item in raw]

    async def create_note(self, contact_id: str, body: str) -> Note:
        async def send() -> Note:
            data = await self._client.call(
                "POST",
                f"/contacts/{segment(contact_id)}/notes",
                label=labels.CREATE_NOTE,
                body={"body": body},
                idempotent=False,
            )
            return parse_note(data.get("note"))

        async def find() -> Note | None:
            same = [n for n in await self.get_notes(contact_id) if n.body == body]
            return max(same, key=_added_key) if same else None

        return await self._create(send, find)

    async def update_note(self, contact_id: str, note_id: str, body: str) -> Note:
        data = await self._client.call(
            "PUT",
            f"/contacts/{segment(contact_id)}/notes/{segment(note_id)}",
            label=labels.UPDATE_NOTE,
            body={"body": body},
        )
        return parse_note(data.get("note"))

    async def delete_note(self, contact_id: str, note_id: str) -> None:
        await self._client.call(
            "DELETE",
            f"/contacts/{segment(contact_id)}/notes/{segment(note_id)}",
            label=labels.DELETE_NOTE,
        )

    # -- tasks -------------------------------------------------------------------------------

    async def list_tasks(self, contact_id: str) -> Sequence[Task]:
        data = await self._client.call(
            "GET", f"/contacts/{segment(contact_id)}/tasks", label=labels.LIST_TASKS
        )
        raw = data.get("tasks")
        if not isinstance(raw, list):
            raise MalformedDataError(f"tasks of {contact_id}: no tasks array")
        return [parse_task(item, contact_id) for item in raw]

    async def create_task(self, contact_id: str, draft: TaskDraft) -> Task:
        body = task_body(draft)

        async def send() -> Task:
            data = await self._client.call(
                "POST",
                f"/contacts/{segment(contact_id)}/tasks",
                label=labels.CREATE_TASK,
                body=body,
                idempotent=False,
            )
            return parse_task(data.get("task"), contact_id)

        async def find() -> Task | None:
            for task in await self.list_tasks(contact_id):
                if (task.title, task.body, task.due_date) == (
                    draft.title,
                    draft.body,
                    draft.due_date,
                ):
                    return task
            return None

        return await self._create(send, find)

    async def update_task(self, contact_id: str, task_id: str, draft: TaskDraft) -> Task:
        data = await self._client.call(
            "PUT",
            f"/contacts/{segment(contact_id)}/tasks/{segment(task_id)}",
            label=labels.UPDATE_TASK,
            body=task_body(draft),
        )
        return parse_task(data.get("task"), contact_id)

    async def complete_task(self, contact_id: str, task_id: str, completed: bool) -> Task:
        data = await self._client.call(
            "PUT",
            f"/contacts/{segment(contact_id)}/tasks/{segment(task_id)}/completed",
            label=labels.COMPLETE_TASK,
            body={"completed": completed},
        )
        return parse_task(data.get("task"), contact_id)

    async def delete_task(self, contact_id: str, task_id: str) -> None:
        await self._client.call(
            "DELETE",
            f"/contacts/{segment(contact_id)}/tasks/{segment(task_id)}",
            label=labels.DELETE_TASK,
        )

    # -- internals ---------------------------------------------------------------------------

    async def _create(
        self, send: Callable[[], Awaitable[T]], find: Callable[[], Awaitable[T | None]]
    ) -> T:
        """Send a create; after an uncertain end, look for its effect before sending again."""
        attempt = 0
        while True:
            try:
                return await send()
            except (UncertainWriteError, MalformedDataError) as exc:
                # A 200 we cannot read is as uncertain as a 502: the write may be in.
                failure: SideError = exc
            except DuplicateContactError:
                raise
            except PermanentItemError as exc:
                if exc.status != 422 or isinstance(exc, NotFoundError):
                    raise
                # HighLevel is known to answer 422 and create anyway: look, never resend.
                await self._clock.sleep(self._retry.lookup_delay)
                if (found := await find()) is not None:
                    return found
                raise
            await self._clock.sleep(self._retry.lookup_delay)
            if (found := await find()) is not None:
                return found
            attempt += 1
            if attempt >= self._retry.max_attempts:
                raise failure
            self._usage.retries += 1
            await self._clock.sleep(self._retry.delay(attempt - 1))

    async def _find_created_contact(self, draft: ContactDraft) -> Contact | None:
        if draft.email or draft.phone:
            candidates = list(await self.find_contacts(email=draft.email, phone=draft.phone))
            if not any(_same_contact(c, draft) for c in candidates):
                # Search lags writes; the duplicate check reads live data (one match at most).
                candidates.extend(await self._duplicate_of(draft))
        else:
            name = " ".join(p for p in (draft.first_name, draft.last_name) if p)
            candidates = await self._search_all(query=name) if name else []
        same = [c for c in candidates if _same_contact(c, draft)]
        return max(same, key=_added_key) if same else None

    async def _duplicate_of(self, draft: ContactDraft) -> list[Contact]:
        params = {"locationId": self._location_id}
        if draft.email:
            params["email"] = draft.email.strip()
        if draft.phone:
            params["number"] = normalise_phone(draft.phone) or draft.phone
        data = await self._client.call(
            "GET",
            "/contacts/search/duplicate?" + urlencode(params),
            label=labels.DUPLICATE_CHECK,
        )
        found = data.get("contact")
        return [parse_contact(found)] if found else []

    async def _find_by_phone(self, phone_key: str) -> list[Contact]:
        hits = await self._search_all(
            filters=[{"field": "phone", "operator": "eq", "value": phone_key}]
        )
        matching = [c for c in hits if normalise_phone(c.phone) == phone_key]
        if matching:
            return matching
        # Phone ``eq`` has missed existing contacts upstream: search the digits as text.
        digits = phone_key.lstrip("+")[-10:]
        hits = await self._search_all(query=digits)
        return [c for c in hits if normalise_phone(c.phone) == phone_key]

    async def _search_all(
        self, *, filters: Sequence[Mapping[str, Any]] = (), query: str | None = None
    ) -> list[Contact]:
        search = self._search(filters=filters, query=query, page_limit=_LOOKUP_PAGE_LIMIT)
        return [c async for page in search.pages() for c in page.contacts]

    def _search(
        self,
        *,
        filters: Sequence[Mapping[str, Any]] = (),
        query: str | None = None,
        page_limit: int,
    ) -> ContactSearch:
        return ContactSearch(
            self._client,
            location_id=self._location_id,
            page_limit=page_limit,
            filters=filters,
            query=query,
        )


def _same_contact(contact: Contact, draft: ContactDraft) -> bool:
    return (
        normalise_email(contact.email) == normalise_email(draft.email)
        and normalise_phone(contact.phone) == normalise_phone(draft.phone)
        and _name(contact.first_name) == _name(draft.first_name)
        and _name(contact.last_name) == _name(draft.last_name)
    )


def _name(value: str | None) -> str:
    return (value or "").strip().casefold()


def _added_key(record: Contact | Note) -> tuple[datetime, str]:
    return (record.date_added or datetime.min.replace(tzinfo=UTC), record.id)
