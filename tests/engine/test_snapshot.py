"""Snapshots: incremental listings, periodic full scans, deletions believed only after a 404,
malformed records parked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from reconciler.errors import RetriableError
from reconciler.sides.base import Rejected
from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.tables import SnapshotContactRow
from tests.engine import inspect
from tests.engine.conftest import Env, make_env
from tests.engine.sides import ScriptedSide

ARCHIVED = "reconciler-archived"


async def _seen_by(env: Env, side: str) -> dict[str, str | None]:
    async with env.store.session() as s:
        rows = await s.execute(
            select(SnapshotContactRow.contact_id, SnapshotContactRow.seen_run_id).where(  # type: ignore[call-overload]
                SnapshotContactRow.pair_id == env.pair_id, SnapshotContactRow.side == side
            )
        )
        return {row.contact_id: row.seen_run_id for row in rows}


async def test_incremental_snapshot_picks_up_changes(env: Env) -> None:
    ids = []
    for n in range(5):
        env.clock.advance(seconds=1)
        ids.append(env.a.user.add_contact(first_name=f"C{n}", email=f"c{n}@example.com").id)
    first = await env.run()
    env.a.user.edit_contact(ids[1], first_name="Changed")

    second = await env.run()

    assert env.b.user.find(email="c1@example.com")[0].first_name == "Changed"
    seen = await _seen_by(env, "a")
    # Only contacts stamped at or after the watermark were listed again: the edited one, and
    # the newest of the first listing (the watermark is inclusive).
    assert {cid for cid, run in seen.items() if run == second.run_id} == {ids[1], ids[4]}
    assert {seen[c] for c in (ids[0], ids[2], ids[3])} == {first.run_id}


async def test_full_scan_first_then_periodically(env: Env) -> None:
    await env.set_scan(full_scan_interval_s=3600)
    env.a.user.add_contact(first_name="F", email="f@example.com")
    await env.run()
    async with env.store.session() as s:
        pair = await repo_pairs.get_pair(s, env.pair_id)
        assert pair is not None
        first_full = pair.a_full_scan_at
    assert first_full is not None
    await env.run()  # a minute later: incremental
    async with env.store.session() as s:
        pair = await repo_pairs.get_pair(s, env.pair_id)
        assert pair is not None
        assert pair.a_full_scan_at == first_full
    env.clock.advance(hours=1)
    await env.run()
    async with env.store.session() as s:
        pair = await repo_pairs.get_pair(s, env.pair_id)
        assert pair is not None
        assert pair.a_full_scan_at is not None
        assert pair.a_full_scan_at - first_full >= timedelta(hours=1)


async def test_deletion_needs_a_404(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.a, ScriptedSide)
    kept = env.a.user.add_contact(first_name="Kept", email="kept@example.com")
    flaky = env.a.user.add_contact(first_name="Flaky", email="flaky@example.com")
    gone = env.a.user.add_contact(first_name="Gone", email="gone@example.com")
    await env.run()
    # A lagging index leaves two contacts out of a listing that says it is complete; one of
    # them still answers, the other's confirmation fails: neither is believed deleted.
    env.a.hidden |= {kept.id, flaky.id}
    env.a.fail[("get_contact", flaky.id)] = RetriableError("503", status=503)
    env.a.user.delete_contact(gone.id)

    await env.run(full_scan=True)

    archived = {c.email for c in env.b.user.contacts() if ARCHIVED in c.tags}
    assert archived == {"gone@example.com"}  # confirmed by its 404
    assert len(await inspect.links(env)) == 2
    # The survivor is retired: never re-created on A.
    await env.run(full_scan=True)
    assert env.a.user.find(email="gone@example.com") == []


async def test_malformed_upstream_item_is_parked(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.a, ScriptedSide)
    linked = env.a.user.add_contact(first_name="Linked", email="linked@example.com")
    await env.run()
    env.a.user.add_contact(first_name="Fine", email="fine@example.com")
    # The linked contact comes back unreadable: parked, and not taken for a deletion.
    env.a.hidden.add(linked.id)
    env.a.rejected = [
        Rejected(linked.id, "MalformedDataError: dateAdded is not a date", '{"id": "..."}'),
        Rejected(None, "MalformedDataError: no id", '{"name": "?"}'),
    ]

    report = await env.run(full_scan=True)

    assert report.status == "succeeded"
    assert report.parked == 2
    items = {(p.side, p.item_kind, p.item_id) for p in await inspect.parked(env)}
    assert ("a", "contact", linked.id) in items
    assert any(item_id.startswith("unreadable:") for _, _, item_id in items)
    assert env.b.user.find(email="fine@example.com")
    assert all(ARCHIVED not in c.tags for c in env.b.user.contacts())
    assert len(await inspect.links(env)) == 2
