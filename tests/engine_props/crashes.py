"""Crash and write-fault injection for the crash tests: hooks that crash at the k-th journal
step, and a memory side whose n-th write fails the way a real one can."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from reconciler.errors import UncertainWriteError
from reconciler.sides.base import Contact, ContactDraft, CoreField, Note
from reconciler.sides.memory import MemorySide
from reconciler.sync.model import Action
from reconciler.sync.run import SimulatedCrash

T = TypeVar("T")
WriteFault = Literal["error_after_write", "timeout"]


class Steps:
    """Records every journal step of a run; with ``crash_at``, crashes at that one."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.crash_at = crash_at
        self.names: list[str] = []

    async def step(self, name: str, *, action: Action | None = None) -> None:
        index = len(self.names)
        self.names.append(name)
        if index == self.crash_at:
            raise SimulatedCrash(f"step {index}: {name}")


@dataclass
class WriteFaults:
    """Shared by both sides of a pair: the n-th write of the pair (0-based) fails."""

    fail_at: int | None = None
    kind: WriteFault = "error_after_write"
    writes: int = 0
    failed: list[str] = field(default_factory=list)


class FaultyWrites(MemorySide):
    """A memory side whose writes count against ``WriteFaults``: at ``fail_at``, either the
    write is applied and then answered 502 (HighLevel's "5xx after a successful write"), or
    it times out before reaching the side. Both leave the caller not knowing what happened
    (``UncertainWriteError``), as a connector whose retries ran out would."""

    def __init__(self, *args: Any, faults: WriteFaults | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_faults = faults or WriteFaults()

    async def _write(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        plan = self.write_faults
        index = plan.writes
        plan.writes += 1
        if index != plan.fail_at:
            return await call()
        plan.failed.append(f"{what} ({plan.kind})")
        if plan.kind == "timeout":
            raise UncertainWriteError(f"{what}: timed out", side=self.name)
        await call()
        raise UncertainWriteError(f"{what}: 502 after the write", side=self.name, status=502)

    async def create_contact(self, draft: ContactDraft) -> Contact:
        return await self._write(
            "create_contact", lambda: super(FaultyWrites, self).create_contact(draft)
        )

    async def update_contact(
        self, contact_id: str, changes: Mapping[CoreField, str | None]
    ) -> Contact:
        return await self._write(
            "update_contact", lambda: super(FaultyWrites, self).update_contact(contact_id, changes)
        )

    async def delete_contact(self, contact_id: str) -> None:
        await self._write(
            "delete_contact", lambda: super(FaultyWrites, self).delete_contact(contact_id)
        )

    async def add_tags(self, contact_id: str, tags: frozenset[str]) -> None:
        await self._write("add_tags", lambda: super(FaultyWrites, self).add_tags(contact_id, tags))

    async def remove_tags(self, contact_id: str, tags: frozenset[str]) -> None:
        await self._write(
            "remove_tags", lambda: super(FaultyWrites, self).remove_tags(contact_id, tags)
        )

    async def create_note(self, contact_id: str, body: str) -> Note:
        return await self._write(
            "create_note", lambda: super(FaultyWrites, self).create_note(contact_id, body)
        )

    async def update_note(self, contact_id: str, note_id: str, body: str) -> Note:
        return await self._write(
            "update_note",
            lambda: super(FaultyWrites, self).update_note(contact_id, note_id, body),
        )

    async def delete_note(self, contact_id: str, note_id: str) -> None:
        await self._write(
            "delete_note", lambda: super(FaultyWrites, self).delete_note(contact_id, note_id)
        )
