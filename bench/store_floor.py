"""Benchmark: the floor under a first sync's store writes, SQLite alone (no engine, no sides).

The ``initial`` scenario of ``bench/engine.py`` ends with these rows in the store (N people on
each side, 5 tags and 3 notes each, 1% more on side A), and no run can write fewer and keep
DESIGN.md's promises (snapshots of both sides, a base per link and per note, an audit event per
applied action):

    snapshot_contact 2.01 N, snapshot_note 6.03 N, contact_link 1.01 N, link_base 1.01 N,
    note_link 3.03 N, audit_event 2.04 N

This script writes rows of the same shapes and sizes (20-character side ids drawn at random as
HighLevel's are, UUIDv7 link ids, the same JSON) straight through Python's ``sqlite3`` into a
freshly migrated store (the schema and PRAGMAs the service uses: WAL, ``synchronous=NORMAL``,
16 MB of page cache), table after table, ``--rows-per-commit`` rows per transaction, and prints
the wall time of each table. Nothing else runs: no SQLAlchemy, no event loop, no planning, no
reads. What it prints is what the store alone costs; a real run can only add to it.

    .venv/bin/python bench/store_floor.py --contacts 100000 --rows-per-commit 5000 50000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import shutil
import sqlite3
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.store import repo_pairs
from reconciler.store.db import Store
from reconciler.store.migrate import upgrade
from reconciler.store.schema import AccountKind
from reconciler.store.types import new_id

AT = "2026-03-02 09:18:24.000000"
ALPHABET = string.ascii_letters + string.digits


def _side_id(rng: random.Random) -> str:
    return "".join(rng.choices(ALPHABET, k=20))


def _digest(text: str, length: int = 32) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class People:
    """The ids and values of N people as both sides hold them (and 1% more on side A)."""

    def __init__(self, count: int, seed: int = 0) -> None:
        rng = random.Random(seed)
        self.count = count
        self.extra = count // 100
        total = count + self.extra
        self.a_ids = [_side_id(rng) for _ in range(total)]
        self.b_ids = [_side_id(rng) for _ in range(total)]
        self.a_notes = [[_side_id(rng) for _ in range(3)] for _ in range(total)]
        self.b_notes = [[_side_id(rng) for _ in range(3)] for _ in range(total)]
        self.tags = [sorted(f"tag-{t}" for t in rng.sample(range(50), 5)) for _ in range(total)]

    def fields(self, n: int) -> str:
        return json.dumps(
            {
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "email": f"person{n}.0@example.com",
                "phone": f"+1555{n:07d}",
            },
            separators=(",", ":"),
        )

    def tag_json(self, n: int) -> str:
        return json.dumps({t: t for t in self.tags[n]}, separators=(",", ":"))

    @staticmethod
    def body(n: int, k: int) -> str:
        return f"Note {k} about contact {n}: called, left a message."


Rows = Callable[[People, str, list[str]], Iterator[tuple[Any, ...]]]


def _snapshot_contacts(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for side, ids, total in (("a", p.a_ids, len(p.a_ids)), ("b", p.b_ids, p.count)):
        for n in range(total):
            fields, tags = p.fields(n), p.tag_json(n)
            digest = _digest(fields + tags)
            email, phone = f"person{n}.0@example.com", f"+1555{n:07d}"
            yield (pair, side, ids[n], fields, tags, AT, digest, "run", AT, AT, digest, email,
                   phone, 0)  # fmt: skip


def _snapshot_notes(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for side, ids, notes, total in (
        ("a", p.a_ids, p.a_notes, len(p.a_ids)),
        ("b", p.b_ids, p.b_notes, len(p.a_ids)),  # A's extra people's notes are copied to B
    ):
        for n in range(total):
            for k, note_id in enumerate(notes[n]):
                body = p.body(n, k)
                yield (pair, side, note_id, ids[n], body, _digest(body), AT)


def _contact_links(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for n, link_id in enumerate(links):
        yield (link_id, pair, p.a_ids[n], p.b_ids[n], "active", 0, AT, AT)


def _link_bases(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for n, link_id in enumerate(links):
        yield (link_id, p.fields(n), p.tag_json(n), AT)


def _note_links(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for n, link_id in enumerate(links):
        for k in range(3):
            a_note, b_note = p.a_notes[n][k], p.b_notes[n][k]
            body = p.body(n, k)
            note_link_id = "nl_" + _digest(f"{link_id}\n{a_note}\n{b_note}", 24)
            yield (note_link_id, pair, link_id, a_note, b_note, body, _digest(body), AT, AT)


def _audit_events(p: People, pair: str, links: list[str]) -> Iterator[tuple[Any, ...]]:
    for n, link_id in enumerate(links):
        ref = f"link:{p.a_ids[n]}:{p.b_ids[n]}"
        linked = {
            "action": {
                "kind": "link_contacts",
                "payload": {"a_id": p.a_ids[n], "b_id": p.b_ids[n], "link_ref": ref},
                "reason": {"rule": "contact.matched", "detail": "matched by email"},
            },
            "result": {},
        }
        notes = [
            {"a_note_id": p.a_notes[n][k], "b_note_id": p.b_notes[n][k], "body": p.body(n, k)}
            for k in range(3)
        ]
        adopted = {
            "action": {
                "kind": "adopt_base",
                "link_id": link_id,
                "payload": {
                    "initial": True,
                    "fields": json.loads(p.fields(n)),
                    "tags": json.loads(p.tag_json(n)),
                    "notes": notes,
                    "link_ref": ref,
                },
                "reason": {"rule": "link.initial_base", "policy": "tags_initial=union"},
            },
            "result": {},
        }
        for detail in (linked, adopted):
            yield (pair, AT, "run:bench", "action.applied", link_id, json.dumps(detail))


TABLES: list[tuple[str, str, Rows]] = [
    (
        "snapshot_contact",
        "pair_id, side, contact_id, fields, tags, date_updated, hash, seen_run_id, seen_at, "
        "notes_fetched_at, settled_hash, email_key, phone_key, dirty",
        _snapshot_contacts,
    ),
    (
        "snapshot_note",
        "pair_id, side, note_id, contact_id, body, hash, fetched_at",
        _snapshot_notes,
    ),
    (
        "contact_link",
        "id, pair_id, a_id, b_id, status, excluded, created_at, updated_at",
        _contact_links,
    ),
    ("link_base", "link_id, fields, tags, updated_at", _link_bases),
    (
        "note_link",
        "id, pair_id, link_id, a_note_id, b_note_id, base_body, base_hash, created_at, updated_at",
        _note_links,
    ),
    ("audit_event", "pair_id, at, actor, kind, subject, detail", _audit_events),
]


def _chunks(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _measure(empty: Path, people: People, per_commit: int) -> dict[str, tuple[int, float]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        path = folder / "store.db"
        shutil.copy(empty, path)
        db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384"):
            db.execute(f"PRAGMA {pragma}")
        pair = db.execute("SELECT id FROM pair").fetchone()[0]
        links = [new_id() for _ in range(len(people.a_ids))]
        out: dict[str, tuple[int, float]] = {}
        for table, columns, rows in TABLES:
            marks = ", ".join("?" for _ in columns.split(","))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 (ours)
            count, seconds = 0, 0.0
            # Rows are made outside the timed part: only the store's work is measured.
            for chunk in _chunks(rows(people, pair, links), per_commit):
                began = time.perf_counter()
                db.execute("BEGIN")
                db.executemany(sql, chunk)
                db.execute("COMMIT")
                seconds += time.perf_counter() - began
                count += len(chunk)
            out[table] = (count, seconds)
        db.close()
        return out
    finally:
        shutil.rmtree(folder)


async def _empty_store(folder: Path) -> Path:
    """A migrated store with one pair (made as the service makes them)."""
    path = folder / "empty.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    store = Store(url)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    async with store.transaction() as s:
        a = await repo_pairs.create_side_account(
            s, label="A", kind=AccountKind.MEMORY, location_id="floor-a", now=now
        )
        b = await repo_pairs.create_side_account(
            s, label="B", kind=AccountKind.MEMORY, location_id="floor-b", now=now
        )
        await repo_pairs.create_pair(
            s, name="floor", side_a_account_id=a.id, side_b_account_id=b.id, now=now
        )
    await store.dispose()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rows-per-commit", type=int, nargs="+", default=[5_000, 50_000])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-floor-schema-"))
    try:
        empty = asyncio.run(_empty_store(folder))
        people = People(args.contacts)
        results = {k: _measure(empty, people, k) for k in args.rows_per_commit}
    finally:
        shutil.rmtree(folder)
    head = " | ".join(f"{k:,} rows/commit s" for k in args.rows_per_commit)
    print(f"N = {args.contacts:,}\n")
    print(f"| table | rows | {head} |")
    print("|---|---:|" + "---:|" * len(args.rows_per_commit))
    for table, _, _ in TABLES:
        rows = results[args.rows_per_commit[0]][table][0]
        cells = " | ".join(f"{results[k][table][1]:.2f}" for k in args.rows_per_commit)
        print(f"| {table} | {rows:,} | {cells} |")
    totals = " | ".join(
        f"**{sum(s for _, s in results[k].values()):.2f}**" for k in args.rows_per_commit
    )
    print(f"| all | | {totals} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
