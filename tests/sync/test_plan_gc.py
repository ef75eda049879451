"""``build_plan`` pauses the cyclic garbage collector: that is only sound while planning makes
no reference cycles (reference counting must free everything it discards)."""

from __future__ import annotations

import gc

from hypothesis import given, settings

from reconciler.sync.model import Override, OverrideScope, PairPolicy
from tests.sync.test_convergence import POLICIES, SETTINGS, worlds
from tests.sync.world import World


# Fewer examples than the convergence properties: each one runs two full collections.
@settings(SETTINGS, max_examples=40)
@given(world=worlds(), policy=POLICIES)
def test_planning_leaves_no_cyclic_garbage(world: World, policy: PairPolicy) -> None:
    world.file_tags_for(policy)
    overrides = [Override("o1", OverrideScope.FIELD, pin="a", field_name="first_name")]
    gc.collect()
    gc.disable()
    try:
        for _ in range(2):  # the second run sees the first one's links, bases and conflicts
            plan = world.plan(policy, overrides)
            world.apply(plan)
        del plan
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_planning_restores_the_collector() -> None:
    World().plan(PairPolicy())
    assert gc.isenabled()
    gc.disable()
    try:
        World().plan(PairPolicy())
        assert not gc.isenabled()  # a caller's own pause is left as it was
    finally:
        gc.enable()
