"""Failures that end a run: credentials refused, budget reserve reached. The run is recorded
as failed with what happened; what was done before stays done, and the next run finishes."""

from __future__ import annotations

from reconciler.errors import AuthError
from reconciler.sides.memory import MemorySide
from reconciler.store.db import Store
from tests.engine import inspect
from tests.engine.conftest import agree, make_env
from tests.engine.sides import ScriptedSide


async def test_refused_credentials_stop_the_run_and_keep_what_was_done(store: Store) -> None:
    env = await make_env(store, side_class=ScriptedSide)
    assert isinstance(env.b, ScriptedSide)
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.a.user.add_contact(first_name="Bob", email="bob@example.com")
    env.b.fail[("create_contact", "bob@example.com")] = AuthError("401 token revoked")

    report = await env.run()

    assert report.status == "failed"
    assert any("AuthError" in e for e in report.errors)
    assert [c.email for c in env.b.user.contacts()] == ["ann@example.com"]
    assert len(await inspect.links(env)) == 1  # Ann's create is recorded
    assert (await inspect.run_row(env, report.run_id)).status == "failed"
    env.b.fail.clear()
    again = await env.run()
    assert again.status == "succeeded"
    assert again.counts == {"create_contact": 1}
    assert agree(env)


async def test_a_side_at_its_budget_reserve_fails_the_run(store: Store) -> None:
    env = await make_env(store)
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    env.b = MemorySide("b", clock=env.clock, daily_budget=1, budget_reserve=1)

    report = await env.run()

    assert report.status == "failed"
    assert any("BudgetReservedError" in e for e in report.errors)
    assert env.b.user.contacts() == []
    assert await inspect.links(env) == []
