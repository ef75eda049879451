"""Reading what a run left in the store (through the repositories, as the API would)."""

from __future__ import annotations

from sqlalchemy import select

from reconciler.store import repo_audit, repo_conflicts, repo_journal, repo_links, repo_sync
from reconciler.store.repo_journal import JournalEntry
from reconciler.store.repo_links import Link
from reconciler.store.schema import ConflictStatus
from reconciler.store.tables import AuditEventRow, ConflictRow, JournalRow, ParkedItemRow, RunRow
from reconciler.sync.model import LinkBase
from tests.engine.conftest import Env


async def links(env: Env) -> list[Link]:
    out: list[Link] = []
    async with env.store.session() as s:
        async for batch in repo_links.stream_links(s, env.pair_id):
            out.extend(batch)
    return out


async def bases(env: Env) -> dict[str, LinkBase]:
    active = await links(env)
    async with env.store.session() as s:
        return await repo_links.load_bases(s, [link.id for link in active])


async def conflicts(
    env: Env, status: ConflictStatus | None = ConflictStatus.OPEN
) -> list[ConflictRow]:
    async with env.store.session() as s:
        return await repo_conflicts.list_conflicts(
            s, pair_id=env.pair_id, status=status, limit=1000
        )


async def parked(env: Env) -> list[ParkedItemRow]:
    async with env.store.session() as s:
        return await repo_journal.list_parked(s, env.pair_id, limit=1000)


async def journal(env: Env) -> list[JournalEntry]:
    async with env.store.session() as s:
        ids = (await s.execute(select(JournalRow.run_id).distinct())).scalars().all()  # type: ignore[call-overload]
        out: list[JournalEntry] = []
        for run_id in ids:
            out.extend(await repo_journal.run_entries(s, run_id))
    return sorted(out, key=lambda e: e.id)


async def audit(env: Env, kind: str | None = None) -> list[AuditEventRow]:
    async with env.store.session() as s:
        return await repo_audit.list_events(s, pair_id=env.pair_id, kind=kind, limit=10_000)


async def run_row(env: Env, run_id: str) -> RunRow:
    async with env.store.session() as s:
        row = await s.get(RunRow, run_id, populate_existing=True)
    assert row is not None
    return row


async def unsettled(env: Env) -> list[tuple[str, str]]:
    async with env.store.session() as s:
        return list(await repo_sync.unsettled_contacts(s, env.pair_id))
