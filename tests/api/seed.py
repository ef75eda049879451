"""Seed data for the API tests, built through the store's repositories.

One pair ("main") with three links: link 0 has a field conflict (email), a note conflict and
an initial-tags conflict; link 1 has an open field conflict; link 2 has none. A second pair
("second") has one link and one conflict. One finished run with a stored plan. Side A's account
holds credentials whose secret must never show up in any response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.store import repo_conflicts, repo_links, repo_pairs, repo_runs, repo_snapshots
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret, generate_key
from reconciler.store.db import Store
from reconciler.store.repo_links import Link
from reconciler.store.schema import AccountKind, AuthKind, RunStatus, RunTrigger
from reconciler.sync.model import (
    Action,
    ActionKind,
    ConflictKind,
    ConflictSpec,
    ContactState,
    LinkBase,
    LinkPlan,
    NoteLinkBase,
    NoteState,
    Plan,
    Reason,
    Rule,
)
from reconciler.sync.normalise import note_hash

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SECRET_TOKEN = "pit-TOPSECRET-7f3a9c"  # a test credential that must never leak


@dataclass
class Seed:
    pair_id: str
    pair2_id: str
    account_a_id: str
    links: list[Link]
    link2: Link
    email_conflict: str
    note_conflict: str
    tags_conflict: str
    field_conflict_1: str
    conflict2: str
    run_id: str
    plan_id: str
    note_link_id: str


def _state(cid: str, first: str, last: str, email: str, tags: list[str]) -> ContactState:
    return ContactState(
        contact_id=cid,
        fields={"first_name": first, "last_name": last, "email": email, "phone": None},
        tags={t.lower(): t for t in tags},
    )


def _note(note_id: str, body: str) -> NoteState:
    return NoteState(note_id=note_id, body=body, hash=note_hash(body))


def reason(rule: Rule, policy: str | None = None) -> Reason:
    return Reason(rule=rule, policy=policy, compared={"base": "h0", "a": "h1", "b": "h2"})


async def seed_store(store: Store) -> Seed:
    cipher = Cipher([generate_key()])
    async with store.transaction() as s:
        acc_a = await repo_pairs.create_side_account(
            s,
            label="Acme (A)",
            kind=AccountKind.HIGHLEVEL,
            location_id="loc-a",
            auth_kind=AuthKind.PIT,
            credentials=AccountCredentials(pit=Secret(SECRET_TOKEN)),
            cipher=cipher,
            now=NOW,
        )
        acc_b = await repo_pairs.create_side_account(
            s, label="Peer (B)", kind=AccountKind.MEMORY, location_id="loc-b", now=NOW
        )
        acc_c = await repo_pairs.create_side_account(
            s, label="Other", kind=AccountKind.MEMORY, location_id="loc-c", now=NOW
        )
        pair = await repo_pairs.create_pair(
            s, name="main", side_a_account_id=acc_a.id, side_b_account_id=acc_b.id, now=NOW
        )
        pair2 = await repo_pairs.create_pair(
            s, name="second", side_a_account_id=acc_c.id, side_b_account_id=acc_b.id, now=NOW
        )
        links = []
        for i, contacts in enumerate((("a1", "b1"), ("a2", "b2"), ("a3", "b3"))):
            links += await repo_links.create_links(
                s, pair.id, [contacts], now=NOW + timedelta(minutes=i)
            )
        (link2,) = await repo_links.create_links(s, pair2.id, [("c1", "d1")], now=NOW)

        people = [
            ("Ann", "Lee", "ann@example.com", ["VIP", "Lead"]),
            ("Bob", "Stone", "bob@example.com", ["Lead"]),
            ("Cara", "Diaz", "cara@example.com", []),
        ]
        for side, ids in (("a", ("a1", "a2", "a3")), ("b", ("b1", "b2", "b3"))):
            states = [_state(cid, *person) for cid, person in zip(ids, people, strict=True)]
            await repo_snapshots.upsert_contacts(
                s,
                pair.id,
                side,
                states,
                run_id=None,
                seen_at=NOW,  # type: ignore[arg-type]
            )
        await repo_snapshots.replace_notes(
            s,
            pair.id,
            "a",
            {"a1": [_note("na1", "Called Ann.\nShe wants a demo.")]},
            fetched_at=NOW,
        )
        await repo_snapshots.replace_notes(
            s,
            pair.id,
            "b",
            {"b1": [_note("nb1", "Called Ann.\nShe wants pricing.")]},
            fetched_at=NOW,
        )
        note_base = NoteLinkBase(
            note_link_id="nl-1",
            a_note_id="na1",
            b_note_id="nb1",
            body="Called Ann.",
            hash=note_hash("Called Ann."),
        )
        await repo_links.save_bases(
            s,
            pair.id,
            {
                links[0].id: LinkBase(
                    fields={
                        "first_name": "Ann",
                        "last_name": "Lee",
                        "email": "ann@old.com",
                        "phone": None,
                    },
                    tags={"lead": "Lead"},
                    notes=(note_base,),
                ),
                links[1].id: LinkBase(
                    fields={
                        "first_name": "Bob",
                        "last_name": "Stone",
                        "email": "bob@example.com",
                        "phone": None,
                    },
                    tags={"lead": "Lead"},
                ),
            },
            now=NOW,
        )
        specs = [
            ConflictSpec(
                kind=ConflictKind.FIELD,
                scope="email",
                link_id=links[0].id,
                base_value="ann@old.com",
                a_value="ann@example.com",
                b_value="ann@work.com",
                reason=reason(Rule.FIELD_CLASH, "field_conflict=manual"),
            ),
            ConflictSpec(
                kind=ConflictKind.NOTE,
                scope="nl-1",
                link_id=links[0].id,
                base_value="Called Ann.",
                a_value="Called Ann.\nShe wants a demo.",
                b_value="Called Ann.\nShe wants pricing.",
                reason=reason(Rule.NOTE_CLASH, "note_conflict=manual"),
            ),
            ConflictSpec(
                kind=ConflictKind.TAGS_INITIAL,
                scope="tags",
                link_id=links[0].id,
                base_value=None,
                a_value=["Lead", "VIP"],
                b_value=["Lead"],
                reason=reason(Rule.TAGS_INITIAL, "tags_initial=manual"),
            ),
            ConflictSpec(
                kind=ConflictKind.FIELD,
                scope="first_name",
                link_id=links[1].id,
                base_value="Bob",
                a_value="Bobby",
                b_value="Robert",
                reason=reason(Rule.FIELD_CLASH, "field_conflict=manual"),
            ),
        ]
        ids = []
        for i, spec in enumerate(specs):
            done = await repo_conflicts.upsert_open_conflicts(
                s, pair.id, [spec], now=NOW + timedelta(seconds=i)
            )
            ids += done.ids
        other = await repo_conflicts.upsert_open_conflicts(
            s,
            pair2.id,
            [
                ConflictSpec(
                    kind=ConflictKind.FIELD,
                    scope="phone",
                    link_id=link2.id,
                    base_value=None,
                    a_value="+15550001",
                    b_value="+15550002",
                    reason=reason(Rule.FIELD_CLASH),
                )
            ],
            now=NOW + timedelta(seconds=10),
        )
        run = await repo_runs.start_run(
            s, pair.id, trigger=RunTrigger.SCHEDULE, now=NOW - timedelta(hours=1), dry_run=True
        )
        plan = await repo_runs.save_plan(
            s,
            pair.id,
            Plan(
                links=(
                    LinkPlan(
                        link_id=links[2].id,
                        actions=(
                            Action(
                                kind=ActionKind.ADD_TAGS,
                                reason=reason(Rule.TAGS_MERGE),
                                side="b",
                                link_id=links[2].id,
                                contact_id="b3",
                                payload={"tags": ["New"], "keys": ["new"]},
                            ),
                            Action(
                                kind=ActionKind.UPDATE_FIELDS,
                                reason=reason(Rule.FIELD_COPY),
                                side="a",
                                link_id=links[2].id,
                                contact_id="a3",
                                payload={
                                    "changes": {"last_name": "Díaz"},
                                    "replaced": {"last_name": "Diaz"},
                                },
                            ),
                        ),
                    ),
                )
            ),
            fingerprint="fp",
            now=NOW - timedelta(hours=1),
            run_id=run.id,
        )
        await repo_runs.finish_run(
            s,
            run.id,
            status=RunStatus.SUCCEEDED,
            now=NOW - timedelta(hours=1) + timedelta(seconds=3),
            a_complete=True,
            b_complete=True,
            counts={"add_tags": 1, "update_fields": 1},
            requests={"a": {"contacts.search": 4, "notes.list": 3}, "b": {"contacts.search": 2}},
            errors=[],
            conflicts_opened=4,
            plan_id=plan.id,
        )
    return Seed(
        pair_id=pair.id,
        pair2_id=pair2.id,
        account_a_id=acc_a.id,
        links=links,
        link2=link2,
        email_conflict=ids[0],
        note_conflict=ids[1],
        tags_conflict=ids[2],
        field_conflict_1=ids[3],
        conflict2=other.ids[0],
        run_id=run.id,
        plan_id=plan.id,
        note_link_id="nl-1",
    )
