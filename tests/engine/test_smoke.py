from __future__ import annotations

from tests.engine.conftest import Env, agree, person


async def test_first_run_copies_both_ways(env: Env) -> None:
    ann = env.a.user.add_contact(first_name="Ann", email="ann@example.com", tags=["vip"])
    env.a.user.add_note(ann.id, "called Ann")
    bob = env.b.user.add_contact(first_name="Bob", email="bob@example.com", tags=["lead"])
    env.b.user.add_note(bob.id, "met Bob")
    report = await env.run()
    assert report.status == "succeeded", report.errors
    assert agree(env), (person(env.a), person(env.b))
    second = await env.run()
    assert second.status == "succeeded"
    assert not second.counts, second
