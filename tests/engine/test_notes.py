"""Notes: read on a rolling budget, webhook-marked contacts first, both sides of a link
together."""

from __future__ import annotations

from reconciler.errors import RetriableError
from reconciler.sides import labels
from reconciler.store import repo_snapshots
from reconciler.store.db import Store
from tests.engine.conftest import Env, make_env
from tests.engine.sides import ScriptedSide

DAY_S = 86_400.0


def _note_reads(env: Env) -> int:
    return env.a.usage().requests.get(labels.LIST_NOTES, 0)


async def test_rolling_notes_scan_covers_all_links_within_the_period(store: Store) -> None:
    env = await make_env(store, notes_period_s=600)  # every link read once per 10 minutes
    contacts = [
        env.a.user.add_contact(first_name=f"R{n}", email=f"r{n}@example.com") for n in range(20)
    ]
    await env.run()
    # Notes written in the HighLevel UI: no dateUpdated change, no webhook.
    for contact in contacts:
        env.a.user.add_note(contact.id, f"note for {contact.first_name}")
    reads: list[int] = []
    copied_after: list[int] = []
    for _minute in range(10):
        before = _note_reads(env)
        await env.run()  # one a minute
        reads.append(_note_reads(env) - before)
        copied_after.append(sum(1 for c in env.b.user.contacts() if env.b.user.notes(c.id)))

    assert copied_after[-1] == 20  # every link within the period
    assert copied_after[0] < 20  # ... but not all at once:
    assert max(reads[:-1]) <= 3  # paced, about 20 * 1/10 per run


async def test_webhook_dirty_contact_gets_its_notes_read(store: Store) -> None:
    env = await make_env(store, notes_period_s=DAY_S)
    bob = env.a.user.add_contact(first_name="Bob", email="bob@example.com")
    await env.run()
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    await env.run()  # Ann's notes are now more recent than Bob's
    await env.set_scan(notes_per_run=1)  # room for one link: the marked one goes first
    env.a.user.add_note(ann.id, "Ann called back")
    env.a.user.add_note(bob.id, "Bob called back")
    async with env.store.transaction() as s:
        await repo_snapshots.mark_dirty(
            s, env.pair_id, "a", [ann.id], reason="NoteCreate", now=env.clock()
        )

    await env.run()

    (ann_b,) = env.b.user.find(email="ann@example.com")
    (bob_b,) = env.b.user.find(email="bob@example.com")
    assert [n.body for n in env.b.user.notes(ann_b.id)] == ["Ann called back"]
    assert env.b.user.notes(bob_b.id) == []  # the oldest, but no hint: the rolling scan's
    async with env.store.session() as s:
        assert await repo_snapshots.dirty_contact_ids(s, env.pair_id, "a") == []


async def test_a_fresh_note_list_is_never_compared_with_a_stale_one(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.add_note(ann.id, "kept on both")
    await env.run()
    (ann_b,) = env.b.user.contacts()
    env.a.user.add_note(ann.id, "new on A")
    env.b.fail[("get_notes", ann_b.id)] = RetriableError("503", status=503)

    report = await env.run()

    # B's notes could not be read: nothing is decided about Ann's notes in this run.
    assert report.counts == {}
    assert [n.body for n in env.b.user.notes(ann_b.id)] == ["kept on both"]
    env.b.fail.clear()
    await env.run()
    assert sorted(n.body for n in env.b.user.notes(ann_b.id)) == ["kept on both", "new on A"]
