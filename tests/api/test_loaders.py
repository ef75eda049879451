"""DataLoaders: a page of conflicts with their details costs a small, constant number of SQL
statements, whatever the page size (counted with SQLAlchemy's before_cursor_execute)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from reconciler.store import repo_conflicts, repo_links, repo_pairs, repo_snapshots
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.sync.model import (
    ConflictKind,
    ConflictSpec,
    ContactState,
    LinkBase,
    NoteLinkBase,
    NoteState,
    Rule,
)
from reconciler.sync.normalise import note_hash
from tests.api.conftest import Gql
from tests.api.seed import NOW, reason

INBOX = (Path(__file__).parents[2] / "graphql" / "operations" / "inbox.graphql").read_text()
DETAILS = """
query($first: Int!) { conflicts(status: OPEN, first: $first) { totalCount edges { node {
  id kind scope baseValue aValue bValue reason { rule } diff { aToB }
  pair { name policy { delete } }
  link { id displayName excluded
    a { email tags notes { id body } } b { email tags notes { id body } }
    base { email tags notes { id body } } openConflicts { id } overrides { id } }
} } } }
"""


async def seed_conflicts(store: Store, count: int) -> None:
    async with store.transaction() as s:
        a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id="la", now=NOW
        )
        b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id="lb", now=NOW
        )
        pair = await repo_pairs.create_pair(
            s, name="p", side_a_account_id=a.id, side_b_account_id=b.id, now=NOW
        )
        contacts = [(f"a{i}", f"b{i}") for i in range(count)]
        links = await repo_links.create_links(s, pair.id, contacts, now=NOW)
        for side in ("a", "b"):
            states = [
                ContactState(
                    contact_id=f"{side}{i}",
                    fields={
                        "first_name": f"N{i}",
                        "last_name": "L",
                        "email": f"{side}{i}@x.io",
                        "phone": None,
                    },
                    tags={"t": "T"},
                )
                for i in range(count)
            ]
            await repo_snapshots.upsert_contacts(s, pair.id, side, states, run_id=None, seen_at=NOW)  # type: ignore[arg-type]
            await repo_snapshots.replace_notes(
                s,
                pair.id,
                side,  # type: ignore[arg-type]
                {
                    f"{side}{i}": [
                        NoteState(f"n{side}{i}", f"body {side}", note_hash(f"body {side}"))
                    ]
                    for i in range(count)
                },
                fetched_at=NOW,
            )
        await repo_links.save_bases(
            s,
            pair.id,
            {
                link.id: LinkBase(
                    fields={
                        "first_name": "N",
                        "last_name": "L",
                        "email": "old@x.io",
                        "phone": None,
                    },
                    tags={"t": "T"},
                    notes=(NoteLinkBase(f"nl{i}", f"na{i}", f"nb{i}", "body", note_hash("body")),),
                )
                for i, link in enumerate(links)
            },
            now=NOW,
        )
        specs = [
            ConflictSpec(
                kind=ConflictKind.FIELD,
                scope="email",
                link_id=link.id,
                base_value="old@x.io",
                a_value=f"a{i}@x.io",
                b_value=f"b{i}@x.io",
                reason=reason(Rule.FIELD_CLASH),
            )
            for i, link in enumerate(links)
        ]
        for i, spec in enumerate(specs):
            await repo_conflicts.upsert_open_conflicts(
                s, pair.id, [spec], now=NOW + timedelta(seconds=i)
            )


@contextmanager
def counting(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def _count(gql: Gql, store: Store, query: str, variables: dict[str, Any]) -> int:
    with counting(store) as statements:
        data = await gql.data(query, variables, role="viewer")
    assert data
    # The API key check reads (and, once a minute, stamps) the key: not part of the page.
    return len([s for s in statements if "api_key" not in s])


async def test_conflict_page_costs_constant_statements(gql: Gql, store: Store) -> None:
    await seed_conflicts(store, 50)
    small = await _count(gql, store, DETAILS, {"first": 5})
    large = await _count(gql, store, DETAILS, {"first": 50})
    # page, count, links, pair, snapshots, notes A+B (one statement), base, note links,
    # open conflicts, overrides, ... : a handful, the same for 5 and for 50 conflicts.
    assert large == small
    assert large <= 12, large
    inbox = await _count(gql, store, INBOX, {"first": 50})
    assert inbox <= 10, inbox
