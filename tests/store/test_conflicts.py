"""Conflicts: at most one open per (pair, link, kind, scope); resolve, close, list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from reconciler.errors import StoreConflictError
from reconciler.store import repo_conflicts as conflicts
from reconciler.store import repo_links as links
from reconciler.store.db import Store
from reconciler.store.schema import ConflictStatus
from reconciler.store.tables import ConflictRow, PairRow
from reconciler.sync.model import (
    ConflictKind,
    ConflictSpec,
    Reason,
    Resolution,
    ResolutionChoice,
    Rule,
)

from .conftest import NOW

REASON = Reason(
    rule=Rule.NOTE_CLASH, policy="note_conflict=manual", compared={"a": "h1", "b": "h2"}
)


def _spec(link_id: str | None, scope: str, a: object = "A", b: object = "B") -> ConflictSpec:
    kind = ConflictKind.NOTE if link_id else ConflictKind.CONTACT_MATCH
    return ConflictSpec(
        kind=kind,
        scope=scope,
        link_id=link_id,
        base_value="base",
        a_value=a,
        b_value=b,
        reason=REASON,
    )


@pytest.fixture
async def link_id(store: Store, pair: PairRow) -> str:
    async with store.transaction() as s:
        (link,) = await links.create_links(s, pair.id, [("a1", "b1")], now=NOW)
    return link.id


async def test_open_then_refresh_keeps_one_conflict(
    store: Store, pair: PairRow, link_id: str
) -> None:
    later = NOW + timedelta(minutes=5)
    async with store.transaction() as s:
        first = await conflicts.upsert_open_conflicts(
            s, pair.id, [_spec(link_id, "nl1"), _spec(None, "email:ann@x.com")], now=NOW
        )
        again = await conflicts.upsert_open_conflicts(
            s, pair.id, [_spec(link_id, "nl1", a="A2"), _spec(link_id, "nl2")], now=later
        )
    assert first.new_ids == first.ids
    assert again.ids[0] == first.ids[0]
    assert again.new_ids == [again.ids[1]]
    async with store.session() as s:
        refreshed = await conflicts.get_conflict(s, first.ids[0])
        matched = await conflicts.get_conflict(s, first.ids[1])
        count = await conflicts.count_conflicts(s, pair.id)
    assert refreshed is not None
    assert matched is not None
    assert (refreshed.a_value, refreshed.b_value, refreshed.base_value) == ("A2", "B", "base")
    assert refreshed.detected_at == NOW
    assert refreshed.updated_at == later
    assert refreshed.reason == {
        "rule": "note.changed_both_differently",
        "policy": "note_conflict=manual",
        "compared": {"a": "h1", "b": "h2"},
    }
    assert matched.link_id is None
    assert matched.link_key == ""
    assert count == 3


async def test_database_refuses_a_second_open_conflict_on_a_scope(
    store: Store, pair: PairRow, link_id: str
) -> None:
    row = {
        "pair_id": pair.id,
        "link_id": link_id,
        "link_key": link_id,
        "kind": "note",
        "scope": "nl1",
        "status": "open",
        "reason": {},
        "detected_at": NOW,
        "updated_at": NOW,
    }
    async with store.transaction() as s:
        await s.execute(insert(ConflictRow), [{**row, "id": "c1"}])
        # Closed and resolved ones do not count: history may hold many.
        await s.execute(
            insert(ConflictRow),
            [{**row, "id": "c2", "status": "closed"}, {**row, "id": "c3", "status": "resolved"}],
        )
    with pytest.raises(StoreConflictError):
        async with store.transaction() as s:
            await s.execute(insert(ConflictRow), [{**row, "id": "c4"}])


async def test_resolve_once_then_close(store: Store, pair: PairRow, link_id: str) -> None:
    async with store.transaction() as s:
        (conflict_id,) = (
            await conflicts.upsert_open_conflicts(s, pair.id, [_spec(link_id, "nl1")], now=NOW)
        ).ids
    choice = Resolution(ResolutionChoice.CUSTOM, value="merged text")
    async with store.transaction() as s:
        resolved = await conflicts.resolve_conflict(
            s, conflict_id, choice, resolved_by="user:ops", now=NOW
        )
    assert resolved.status == ConflictStatus.RESOLVED.value
    assert resolved.resolution == {"choice": "CUSTOM", "value": "merged text"}
    assert resolved.resolved_by == "user:ops"
    with pytest.raises(StoreConflictError, match="not open"):
        async with store.transaction() as s:
            await conflicts.resolve_conflict(
                s, conflict_id, Resolution(ResolutionChoice.A), resolved_by="user:x", now=NOW
            )
    async with store.session() as s:
        refs = await conflicts.active_conflict_refs(s, pair.id, [link_id])
    (ref,) = refs[link_id]
    assert (ref.conflict_id, ref.kind, ref.scope, ref.resolution) == (
        conflict_id,
        ConflictKind.NOTE,
        "nl1",
        choice,
    )
    async with store.transaction() as s:
        assert await conflicts.close_conflicts(s, [conflict_id], now=NOW) == 1
        assert await conflicts.close_conflicts(s, [conflict_id], now=NOW) == 0
        # The scope is free again: a new disagreement opens a new conflict.
        reopened = await conflicts.upsert_open_conflicts(
            s, pair.id, [_spec(link_id, "nl1")], now=NOW
        )
        refs = await conflicts.active_conflict_refs(s, pair.id)
    assert reopened.new_ids == reopened.ids != [conflict_id]
    assert [r.conflict_id for r in refs[link_id]] == reopened.ids


async def test_list_newest_first_with_keyset_pages(
    store: Store, pair: PairRow, link_id: str
) -> None:
    async with store.transaction() as s:
        for n in range(5):
            await conflicts.upsert_open_conflicts(
                s, pair.id, [_spec(link_id, f"nl{n}")], now=NOW + timedelta(minutes=n)
            )
    async with store.session() as s:
        page1 = await conflicts.list_conflicts(s, pair_id=pair.id, limit=2)
        cursor = (page1[-1].detected_at, page1[-1].id)
        page2 = await conflicts.list_conflicts(s, pair_id=pair.id, limit=2, before=cursor)
        page3 = await conflicts.list_conflicts(
            s, pair_id=pair.id, limit=2, before=(page2[-1].detected_at, page2[-1].id)
        )
        resolved = await conflicts.list_conflicts(s, status=ConflictStatus.RESOLVED)
        by_link = await conflicts.list_conflicts(s, link_id=link_id, kind=ConflictKind.NOTE)
    assert [c.scope for c in page1 + page2 + page3] == ["nl4", "nl3", "nl2", "nl1", "nl0"]
    assert resolved == []
    assert len(by_link) == 5


async def test_upsert_of_many_conflicts(store: Store, pair: PairRow) -> None:
    async with store.transaction() as s:
        created = await links.create_links(
            s, pair.id, [(f"a{n}", f"b{n}") for n in range(1500)], now=NOW
        )
        specs = [_spec(link.id, "nl") for link in created]
        first = await conflicts.upsert_open_conflicts(s, pair.id, specs, now=NOW)
        second = await conflicts.upsert_open_conflicts(s, pair.id, specs, now=NOW)
    assert len(set(first.ids)) == 1500
    assert second.ids == first.ids
    assert second.new_ids == []
