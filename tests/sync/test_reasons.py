"""Every action and conflict explains itself with hashes, never with the values themselves."""

from __future__ import annotations

import re

from reconciler.sync.model import (
    FieldConflictPolicy,
    NoteConflictPolicy,
    Override,
    OverrideScope,
    PairPolicy,
    Plan,
    Reason,
    UnlinkedContact,
)
from reconciler.sync.normalise import note_hash
from reconciler.sync.plan import build_plan
from tests.sync.builders import NOW, base, contact, note_link, view

SECRETS = [
    "Zelda",
    "Quimby",
    "zelda@secret.io",
    "+15550199",
    "Secret Tag",
    "secret tag",
    "private body",
    "Merged Line",
    "Hidden Note",
    "Unmatched Person",
]
HASH_OR_TIME = re.compile(r"^([0-9a-f]{12}|[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:+.]+)$")


def _rich_plan(policy: PairPolicy) -> Plan:
    body = "private body\nsecond line\nthird line"
    existing = view(
        contact(
            "ca",
            first_name="Zelda",
            last_name="Quimby",
            email="zelda@secret.io",
            tag_names=["Secret Tag"],
            note_bodies={"a1": "Merged Line\nsecond line\nthird line", "a2": "Hidden Note"},
        ),
        contact(
            "cb",
            first_name="Zeldaa",
            phone="+15550199",
            note_bodies={"b1": "private body\nsecond line\nMerged Line"},
        ),
        base(
            first_name="Zeld",
            email="zelda@old.io",
            note_links=[note_link("n1", "a1", "b1", body)],
        ),
    )
    unlinked = [
        UnlinkedContact("a", contact("u1", first_name="Unmatched Person", email="zelda@secret.io")),
        UnlinkedContact("b", contact("u2", first_name="Quimby", email="zelda@secret.io")),
        UnlinkedContact("b", contact("u3", first_name="Quimby", email="zelda@secret.io")),
        UnlinkedContact("a", contact("u4", first_name="Zelda", tag_names=["Secret Tag"])),
    ]
    return build_plan([existing], unlinked, policy, [], NOW)


def _reasons(plan: Plan) -> list[Reason]:
    return [a.reason for a in plan.actions] + [c.reason for c in plan.conflicts]


def test_reasons_carry_hashes_and_no_raw_values() -> None:
    for policy in (
        PairPolicy(),
        PairPolicy(
            note_conflict=NoteConflictPolicy.MERGE, field_conflict=FieldConflictPolicy.NEWEST_WINS
        ),
        PairPolicy(
            note_conflict=NoteConflictPolicy.A_WINS, field_conflict=FieldConflictPolicy.B_WINS
        ),
    ):
        plan = _rich_plan(policy)
        reasons = _reasons(plan)
        assert len(reasons) >= 6
        for reason in reasons:
            text = repr(reason)
            for secret in SECRETS:
                assert secret not in text, (secret, reason)
            assert reason.compared, reason
            for value in reason.compared.values():
                assert value is None or HASH_OR_TIME.match(value), (value, reason)


def test_reasons_name_the_policy_used() -> None:
    plan = _rich_plan(PairPolicy(note_conflict=NoteConflictPolicy.MERGE))
    merged = [a for a in plan.actions if a.reason.policy == "note_conflict=merge"]
    assert merged
    assert merged[0].reason.compared["base"] == note_hash("private body\nsecond line\nthird line")
    assert "merged" in merged[0].reason.compared


def test_override_reasons_name_the_override() -> None:
    pin = Override("o-7", OverrideScope.PAIR, pin="a")
    plan = build_plan(
        [
            view(
                contact("ca", first_name="Zelda"),
                contact("cb", first_name="Quimby"),
                base(first_name="Zeld"),
            )
        ],
        [],
        PairPolicy(),
        [pin],
        NOW,
    )
    (action,) = plan.actions
    assert action.reason.override_id == "o-7"
    assert "first_name.replaced" in action.reason.compared
