"""Executing one link's plan on in-memory states (the engine's own effects)."""

from __future__ import annotations

import itertools

from reconciler.sync.base import base_after
from reconciler.sync.model import ActionKind, ContactState, LinkBase, LinkPlan
from reconciler.sync.simulate import state_after

_ids = itertools.count(1)


def execute(
    plan: LinkPlan, a: ContactState, b: ContactState, link_base: LinkBase | None
) -> tuple[ContactState, ContactState, LinkBase | None]:
    """Apply every action of a link plan to the two states and the base."""
    states = {"a": a, "b": b}
    for action in plan.actions:
        created = f"new{next(_ids)}" if action.kind is ActionKind.CREATE_NOTE else None
        if action.side is not None:
            after = state_after(states[action.side], action, created_id=created)
            assert isinstance(after, ContactState)
            states[action.side] = after
        link_base = base_after(link_base, action, created_id=created)
    return states["a"], states["b"], link_base
