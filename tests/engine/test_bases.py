"""What an applied action writes of its link's base: only what it changed. The rest of the base
stays as stored (a tag change does not rewrite the link's note links), and the base the next
run loads is the whole agreed state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from reconciler.store import repo_links
from reconciler.store.db import Store
from reconciler.store.tables import LinkBaseRow, NoteLinkRow
from tests.engine.conftest import Env, make_env


async def _note_links(env: Env) -> dict[str, tuple[str, datetime]]:
    """note link id -> (base body, updated_at)."""
    async with env.store.session() as s:
        rows = (await s.execute(select(NoteLinkRow))).scalars().all()
    return {row.id: (row.base_body, row.updated_at) for row in rows}


async def _base_updated_at(env: Env) -> datetime:
    async with env.store.session() as s:
        (row,) = (await s.execute(select(LinkBaseRow))).scalars().all()
    return row.updated_at


async def test_a_tag_change_writes_the_tags_and_leaves_the_note_links_as_stored(
    store: Store,
) -> None:
    env = await make_env(store)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    env.a.user.add_note(ann.id, "first call")
    env.a.user.add_note(ann.id, "second call")
    await env.run()
    note_links = await _note_links(env)
    assert len(note_links) == 2

    env.a.user.add_tag(ann.id, "hot")
    report = await env.run()

    assert dict(report.counts) == {"add_tags": 1}
    assert await _note_links(env) == note_links, "note links rewritten by a tag change"
    async with env.store.session() as s:
        (base,) = (await repo_links.load_bases(s, await _link_ids(env))).values()
    assert base is not None
    assert sorted(base.tags.values()) == ["hot", "vip"]
    assert sorted(n.body for n in base.notes) == ["first call", "second call"]


async def test_a_note_edit_writes_that_note_link_only(store: Store) -> None:
    env = await make_env(store)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    first = env.a.user.add_note(ann.id, "first call")
    env.a.user.add_note(ann.id, "second call")
    await env.run()
    note_links = await _note_links(env)
    base_written = await _base_updated_at(env)

    env.a.user.edit_note(ann.id, first.id, "first call, again")
    report = await env.run()

    assert dict(report.counts) == {"update_note": 1}
    after = await _note_links(env)
    changed = {k for k in after if after[k] != note_links.get(k)}
    assert len(changed) == 1
    assert after[changed.pop()][0] == "first call, again"
    assert set(after) == set(note_links)
    assert await _base_updated_at(env) == base_written, "fields and tags rewritten"


async def _link_ids(env: Env) -> list[str]:
    async with env.store.session() as s:
        return [lid for (lid,) in (await s.execute(select(LinkBaseRow.link_id))).all()]
