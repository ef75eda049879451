"""What a run records about itself: the run row and the returned report."""

from __future__ import annotations

from reconciler.errors import PermanentItemError
from reconciler.store.db import Store
from tests.engine import inspect
from tests.engine.conftest import make_env
from tests.engine.sides import ScriptedSide


async def test_run_report_contents(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    ann = env.a.user.add_contact(first_name="Ann", last_name="Lee", email="ann@example.com")
    env.a.user.add_note(ann.id, "a note")
    env.a.user.add_contact(first_name="Bad", email="bad@example.com")
    env.b.fail[("create_contact", "bad@example.com")] = PermanentItemError("422 invalid")
    await env.run()
    (copy,) = env.b.user.contacts()
    env.a.user.edit_contact(ann.id, last_name="Lee-Smith")
    env.b.user.edit_contact(copy.id, last_name="Lee-Jones")
    env.a.user.add_tag(ann.id, "vip")
    started = env.clock.now

    report = await env.run(trigger="schedule")

    assert report.status == "succeeded"
    assert report.dry_run is False
    assert report.counts == {"add_tags": 1}
    assert report.conflicts_opened == 1
    assert report.conflicts_closed == 0
    assert report.complete == {"a": True, "b": True}
    assert report.requests["a"] > 0
    assert report.requests["b"] > 0
    row = await inspect.run_row(env, report.run_id)
    assert row.trigger == "schedule"
    assert row.status == "succeeded"
    assert row.started_at >= started
    assert row.finished_at is not None
    assert row.finished_at >= row.started_at
    assert (row.a_complete, row.b_complete) == (True, True)
    assert row.counts == {"add_tags": 1}
    assert row.conflicts_opened == 1
    assert row.conflicts_closed == 0
    assert sum(row.requests["b"].values()) == report.requests["b"]
    assert row.requests["b"]["POST /contacts/{contactId}/tags"] == 1
    assert row.errors == list(report.errors)
    first = env.reports[0]
    assert first.parked == 1
    assert any("parked" in e for e in first.errors)
    assert (await inspect.run_row(env, first.run_id)).parked == 1
    applied = await inspect.audit(env, "action.applied")
    assert any(e.detail["action"]["kind"] == "add_tags" for e in applied)
