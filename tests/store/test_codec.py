"""The one-pass action encoding writes exactly what ``action_to_json`` holds."""

from __future__ import annotations

import json
from types import MappingProxyType

from reconciler.store.codec import action_from_json, action_to_json, encode_action, encode_json
from reconciler.sync.model import Action, ActionKind, ConflictKind, Reason, Rule


def test_encode_action_is_the_json_of_action_to_json() -> None:
    action = Action(
        kind=ActionKind.ADOPT_BASE,
        reason=Reason(
            rule=Rule.INITIAL_BASE,
            policy="tags_initial=union",
            compared={"tags.a": "e6a7", "tags.b": None},
            detail="new link: récord",
        ),
        link_id="l1",
        payload={
            "initial": True,
            "fields": MappingProxyType({"first_name": "Zoë", "phone": None}),
            "tags": {"vip": "VIP"},
            "tags_dropped": frozenset({"b", "a"}),
            "keys": ("x", "y"),
            "kind": ConflictKind.FIELD,
            "n": 3,
            "ratio": 0.5,
            "nested": [{"set": {"z", "y"}}],
        },
    )
    encoded = encode_action(action)
    assert encoded == encode_json(action_to_json(action))
    assert action_from_json(json.loads(encoded)) == action_from_json(action_to_json(action))
