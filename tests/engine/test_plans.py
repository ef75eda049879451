"""Dry runs store their plan; ``apply_plan`` applies it by id unless a side changed since."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanStaleError
from reconciler.store import repo_runs
from tests.engine import inspect
from tests.engine.conftest import Env, writes


async def test_dry_run_stores_the_plan_and_apply_plan_applies_it(env: Env) -> None:
    env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])

    dry = await env.run(dry_run=True)

    assert dry.status == "planned"
    assert dry.dry_run is True
    assert dry.plan_id is not None
    assert env.b.user.contacts() == []
    assert writes(env.b) == 0
    async with env.store.session() as s:
        plan = await repo_runs.get_plan(s, dry.plan_id)
        actions = await repo_runs.plan_actions(s, dry.plan_id)
    assert plan is not None
    assert plan.status == "pending"
    assert plan.fingerprint
    assert [a.kind.value for a in actions] == ["create_contact"]
    assert actions[0].reason.rule.value == "contact.create"
    assert (await inspect.run_row(env, dry.run_id)).status == "planned"

    applied = await env.apply(dry.plan_id)

    assert applied.status == "succeeded"
    assert applied.plan_id == dry.plan_id
    assert applied.counts == {"create_contact": 1}
    (copy,) = env.b.user.contacts()
    assert copy.email == "ann@example.com"
    async with env.store.session() as s:
        plan = await repo_runs.get_plan(s, dry.plan_id)
    assert plan is not None
    assert plan.status == "applied"
    with pytest.raises(PlanStaleError):
        await env.apply(dry.plan_id)  # a plan is applied once


async def test_stale_plan_is_refused(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    dry = await env.run(dry_run=True)
    assert dry.plan_id is not None
    env.a.user.edit_contact(ann.id, first_name="Anna")

    with pytest.raises(PlanStaleError):
        await env.apply(dry.plan_id)

    assert env.b.user.contacts() == []
    async with env.store.session() as s:
        plan = await repo_runs.get_plan(s, dry.plan_id)
        runs = await repo_runs.list_runs(s, env.pair_id)
    assert plan is not None
    assert plan.status == "stale"
    assert runs[0].status == "failed"
    report = await env.run()  # the next run plans afresh
    assert report.counts == {"create_contact": 1}
    assert env.b.user.contacts()[0].first_name == "Anna"


async def test_a_change_the_plan_does_not_touch_leaves_it_applicable(env: Env) -> None:
    env.a.user.add_contact(first_name="Ann", email="ann@example.com")
    dry = await env.run(dry_run=True)
    assert dry.plan_id is not None
    env.a.user.add_contact(first_name="Zed", email="zed@example.com")

    applied = await env.apply(dry.plan_id)

    assert applied.counts == {"create_contact": 1}
    assert [c.email for c in env.b.user.contacts()] == ["ann@example.com"]
    await env.run()  # Zed is the next run's
    assert sorted(c.email or "" for c in env.b.user.contacts()) == [
        "ann@example.com",
        "zed@example.com",
    ]
