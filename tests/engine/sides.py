"""A memory side that misbehaves on purpose, item by item (the memory side's own faults are
random per request; these tests need one named contact to fail in one named way)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from reconciler.errors import SideError
from reconciler.sides.base import (
    Contact,
    ContactDraft,
    ContactPage,
    CoreField,
    Note,
    Rejected,
)
from reconciler.sides.memory import MemorySide


class ScriptedSide(MemorySide):
    """``fail[(method, key)] = error``: raise ``error`` when ``method`` is called for ``key``
    (a contact id, or for creates the draft's email / the note body). ``hidden``: contacts a
    listing leaves out (as a lagging index would) without saying the page is incomplete.
    ``rejected``: records every listing reports as unreadable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fail: dict[tuple[str, str], SideError] = {}
        self.fail_once: dict[tuple[str, str], SideError] = {}
        self.hidden: set[str] = set()
        self.rejected: list[Rejected] = []
        self.attempts: dict[str, int] = {}

    def _check(self, method: str, key: str | None) -> None:
        self.attempts[method] = self.attempts.get(method, 0) + 1
        if key is None:
            return
        once = self.fail_once.pop((method, key), None)
        if once is not None:
            raise once
        error = self.fail.get((method, key))
        if error is not None:
            raise error

    async def stream_contacts(self, *, since: Any = None) -> AsyncIterator[ContactPage]:
        first = True
        async for page in super().stream_contacts(since=since):
            contacts = [c for c in page.contacts if c.id not in self.hidden]
            rejected = list(page.rejected) + (self.rejected if first else [])
            first = False
            yield ContactPage(contacts=contacts, complete=page.complete, rejected=rejected)
        if first and self.rejected:
            yield ContactPage(contacts=[], complete=True, rejected=list(self.rejected))

    async def create_contact(self, draft: ContactDraft) -> Contact:
        self._check("create_contact", draft.email)
        return await super().create_contact(draft)

    async def update_contact(
        self, contact_id: str, changes: Mapping[CoreField, str | None]
    ) -> Contact:
        self._check("update_contact", contact_id)
        return await super().update_contact(contact_id, changes)

    async def add_tags(self, contact_id: str, tags: frozenset[str]) -> None:
        self._check("add_tags", contact_id)
        await super().add_tags(contact_id, tags)

    async def create_note(self, contact_id: str, body: str) -> Note:
        self._check("create_note", body)
        return await super().create_note(contact_id, body)

    async def get_notes(self, contact_id: str) -> Sequence[Note]:
        self._check("get_notes", contact_id)
        return await super().get_notes(contact_id)

    async def get_contact(self, contact_id: str) -> Contact:
        self._check("get_contact", contact_id)
        return await super().get_contact(contact_id)
