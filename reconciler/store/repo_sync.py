"""What the engine's runs read and write beyond the other repositories: which contacts need a
diff, matching lookups, the echo of our own writes into the snapshot, settling, confirmed
deletions, retirement, bulk journal outcomes, conflict fingerprints, plan context.

"Settled": a snapshot row's ``settled_hash`` is its content ``hash`` at the moment the engine
last finished processing the contact. A listing that brings new content, a write of ours that a
run could not finish, or a brand-new contact all leave ``hash`` different from ``settled_hash``,
and only those rows (a partial index holds them) are looked at again: a run with no changes
reads no link at all.

Like every repository here: functions take the caller's session and never commit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Text,
    and_,
    bindparam,
    delete,
    func,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sides.base import CoreField, SideName
from reconciler.store.bulk import insert_rows
from reconciler.store.codec import (
    core_fields,
    encode_fields,
    encode_json,
    encode_tags,
    hash_encoded,
    resolution_from_json,
    side_or_none,
)
from reconciler.store.schema import (
    ConflictStatus,
    JournalStatus,
    LinkStatus,
    RunStatus,
    table_of,
)
from reconciler.store.sql import chunks, dialect_name, in_values, rowcount, unique
from reconciler.store.tables import (
    ConflictRow,
    ContactLinkRow,
    JournalRow,
    LinkBaseRow,
    NoteLinkRow,
    PlanRow,
    RunRow,
    SnapshotContactRow,
    SnapshotNoteRow,
)
from reconciler.store.tables_snapshots import UNSETTLED
from reconciler.store.types import UtcDateTime
from reconciler.sync.model import (
    ConflictKind,
    ConflictSpec,
    ContactState,
    OpenConflictRef,
    Reason,
    Rule,
)

_CONTACT = table_of(SnapshotContactRow)
_NOTE = table_of(SnapshotNoteRow)
_LINK = table_of(ContactLinkRow)
_BASE = table_of(LinkBaseRow)
_NOTE_LINK = table_of(NoteLinkRow)
_CONFLICT = table_of(ConflictRow)
_JOURNAL = table_of(JournalRow)
_RUN = table_of(RunRow)
_PLAN = table_of(PlanRow)

SideContact = tuple[SideName, str]


def _side(value: str) -> SideName:
    side = side_or_none(value)
    assert side is not None  # a CHECK constraint holds the column to 'a'/'b'
    return side


def _of_side(pair_id: str, side: SideName) -> Any:
    return (_CONTACT.c.pair_id == pair_id) & (_CONTACT.c.side == side)


# ------------------------------------------------------------------------- snapshot rows


@dataclass(frozen=True, slots=True)
class ContactRow:
    """What a run needs of one snapshot row (a run may hold one per contact of the pair:
    nothing more)."""

    side: SideName
    contact_id: str
    fields: Mapping[CoreField, str | None]
    tags: Mapping[str, str]
    date_updated: datetime | None
    hash: str | None
    missing_since: datetime | None
    deleted_at: datetime | None
    retired_at: datetime | None
    seen_run_id: str | None = None  # the last run whose listing (or lookup) returned it

    @property
    def listed(self) -> bool:
        return self.hash is not None

    def state(self) -> ContactState:
        return ContactState(
            contact_id=self.contact_id,
            fields=self.fields,
            tags=self.tags,
            date_updated=self.date_updated,
        )


# The JSON columns are read as their text and decoded here (SQLite hands over the text,
# psycopg the decoded value): SQLAlchemy's JSON result processing costs several times more.
_ROW_COLUMNS = (
    _CONTACT.c.contact_id,
    type_coerce(_CONTACT.c.fields, Text),
    type_coerce(_CONTACT.c.tags, Text),
    _CONTACT.c.date_updated,
    _CONTACT.c.hash,
    _CONTACT.c.missing_since,
    _CONTACT.c.deleted_at,
    _CONTACT.c.retired_at,
    _CONTACT.c.seen_run_id,
)
_decode_json = json.JSONDecoder().raw_decode


def _json_object(value: str | dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        decoded: dict[str, Any] = _decode_json(value)[0]
        return decoded or {}
    return value


async def load_rows(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> dict[str, ContactRow]:
    out: dict[str, ContactRow] = {}
    intern = sys.intern  # tag names and run ids repeat across contacts: one copy each
    for batch in chunks(unique(contact_ids)):
        result = await s.execute(
            select(*_ROW_COLUMNS).where(
                _of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch)
            )
        )
        for (
            contact_id,
            fields,
            tags,
            date_updated,
            digest,
            missing_since,
            deleted_at,
            retired_at,
            seen_run_id,
        ) in result:
            out[contact_id] = ContactRow(
                side=side,
                contact_id=contact_id,
                fields=core_fields(_json_object(fields)),
                tags={intern(k): intern(v) for k, v in _json_object(tags).items()},
                date_updated=date_updated,
                hash=digest,
                missing_since=missing_since,
                deleted_at=deleted_at,
                retired_at=retired_at,
                seen_run_id=seen_run_id and intern(seen_run_id),
            )
    return out


@dataclass(frozen=True, slots=True)
class PoolRow:
    """What a run holds of an unlinked contact until the batch it is planned in loads its
    row: whether it may be matched, and its identities (the email and phone in normal form,
    the snapshot's ``email_key`` and ``phone_key``)."""

    contact_id: str
    email: str | None
    phone: str | None
    listed: bool
    present: bool  # neither missing from the last listing nor confirmed deleted
    retired: bool
    seen_run_id: str | None


async def load_rows_of(
    s: AsyncSession, pair_id: str, contacts: Iterable[SideContact]
) -> dict[SideContact, ContactRow]:
    """``load_rows`` for contacts of both sides, keyed by (side, contact id)."""
    out: dict[SideContact, ContactRow] = {}
    for side, ids in sides_of(contacts).items():
        rows = await load_rows(s, pair_id, side, ids)
        out.update(((side, cid), row) for cid, row in rows.items())
    return out


async def load_pool_rows(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> list[PoolRow]:
    out: list[PoolRow] = []
    intern = sys.intern
    for batch in chunks(unique(contact_ids)):
        result = await s.execute(
            select(
                _CONTACT.c.contact_id,
                _CONTACT.c.email_key,
                _CONTACT.c.phone_key,
                _CONTACT.c.hash.is_not(None),
                and_(_CONTACT.c.missing_since.is_(None), _CONTACT.c.deleted_at.is_(None)),
                _CONTACT.c.retired_at.is_not(None),
                _CONTACT.c.seen_run_id,
            ).where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
        )
        for cid, email, phone, listed, present, retired, seen in result:
            # One copy of each run id (a first sync's rows all name the same run).
            run_id = intern(seen) if seen is not None else None
            out.append(
                PoolRow(cid, email, phone, bool(listed), bool(present), bool(retired), run_id)
            )
    return out


async def unsettled_contacts(s: AsyncSession, pair_id: str) -> list[SideContact]:
    """Rows whose content the engine has not finished processing (new, changed, or left by a
    run that could not finish), both sides."""
    out: list[SideContact] = []
    for side in ("a", "b"):
        result = await s.execute(
            select(_CONTACT.c.contact_id).where(
                _CONTACT.c.pair_id == pair_id, _CONTACT.c.side == side, text(UNSETTLED)
            )
        )
        out.extend((_side(side), contact_id) for contact_id in result.scalars())
    return out


async def deleted_contacts(s: AsyncSession, pair_id: str) -> list[SideContact]:
    """Rows confirmed deleted (their links are diffed until the deletion is dealt with)."""
    out: list[SideContact] = []
    for side in ("a", "b"):
        result = await s.execute(
            select(_CONTACT.c.contact_id).where(
                _CONTACT.c.pair_id == pair_id,
                _CONTACT.c.side == side,
                _CONTACT.c.deleted_at.is_not(None),
            )
        )
        out.extend((_side(side), contact_id) for contact_id in result.scalars())
    return out


async def missing_unconfirmed(
    s: AsyncSession, pair_id: str, side: SideName, *, limit: int
) -> list[str]:
    """Rows a complete listing missed and no 404 has confirmed yet, longest missing first."""
    result = await s.execute(
        select(_CONTACT.c.contact_id)
        .where(
            _of_side(pair_id, side),
            _CONTACT.c.missing_since.is_not(None),
            _CONTACT.c.deleted_at.is_(None),
        )
        .order_by(_CONTACT.c.missing_since, _CONTACT.c.contact_id)
        .limit(limit)
    )
    return list(result.scalars())


async def confirm_deleted(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str], *, now: datetime
) -> None:
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            update(_CONTACT)
            .where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(deleted_at=now)
        )


async def mark_seen(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    contact_ids: Collection[str],
    *,
    run_id: str,
    now: datetime,
) -> None:
    """A listing returned these contacts but we could not read them (malformed): they exist,
    so the end of a complete listing must not take them for missing."""
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            update(_CONTACT)
            .where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(seen_run_id=run_id, seen_at=now, missing_since=None)
        )


async def find_by_identity(
    s: AsyncSession,
    pair_id: str,
    *,
    emails: Collection[str] = (),
    phones: Collection[str] = (),
    besides: Container[SideContact] = (),
) -> list[SideContact]:
    """Listed, present contacts (either side) with one of these email or phone keys, except
    those in ``besides`` (the caller's own: a first sync asks about every contact it has)."""
    found: set[SideContact] = set()
    for column, values in ((_CONTACT.c.email_key, emails), (_CONTACT.c.phone_key, phones)):
        for batch in chunks(unique(values)):
            result = await s.execute(
                select(_CONTACT.c.side, _CONTACT.c.contact_id).where(
                    in_values(s, column, batch),
                    _CONTACT.c.pair_id == pair_id,
                    _CONTACT.c.deleted_at.is_(None),
                )
            )
            for side, contact_id in result:
                key = (_SIDES[side], contact_id)
                if key not in besides:
                    found.add(key)
    return sorted(found)


_SIDES: dict[str, SideName] = {"a": "a", "b": "b"}  # a CHECK constraint holds the column to these


async def put_states(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    states: Sequence[ContactState],
    *,
    now: datetime,
    run_id: str | None,
) -> None:
    """Write contacts as we know them to be after our own writes (echo suppression): the next
    listing returns the same content, which then is no change. Dirty hints, the note scan's
    progress and ``settled_hash`` are kept; a new row starts unsettled."""
    rows: list[dict[str, Any]] = []
    for state in states:
        fields_json, tags_json = encode_fields(state.fields), encode_tags(state.tags)
        rows.append(
            {
                "pair_id": pair_id,
                "side": side,
                "contact_id": state.contact_id,
                "fields": fields_json,
                "tags": tags_json,
                "date_updated": state.date_updated,
                "hash": hash_encoded(fields_json, tags_json),
                "seen_run_id": run_id,
                "seen_at": now,
                "missing_since": None,
                "deleted_at": None,
                "dirty": False,
                "email_key": state.fields.get("email"),
                "phone_key": state.fields.get("phone"),
            }
        )
    await insert_rows(
        s,
        _CONTACT,
        rows,
        conflict=("pair_id", "side", "contact_id"),
        update=("fields", "tags", "hash", "missing_since", "deleted_at"),
        update_indexed=("email_key", "phone_key"),
    )


async def settle(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> None:
    """The engine finished with these contacts' current content."""
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            update(_CONTACT)
            .where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(settled_hash=_CONTACT.c.hash)
        )


async def unsettle(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> None:
    """Look at these contacts again in the next run, whatever their content."""
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            update(_CONTACT)
            .where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(settled_hash=None)
        )


async def retire(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str], *, now: datetime
) -> None:
    for batch in chunks(unique(contact_ids)):
        await s.execute(
            update(_CONTACT)
            .where(_of_side(pair_id, side), in_values(s, _CONTACT.c.contact_id, batch))
            .values(retired_at=now)
        )


async def put_notes(
    s: AsyncSession,
    pair_id: str,
    side: SideName,
    notes: Sequence[tuple[str, str, str, str]],
    *,
    now: datetime,
) -> None:
    """Snapshot notes as our writes left them: (contact id, note id, body, hash)."""
    await insert_rows(
        s,
        _NOTE,
        [
            {
                "pair_id": pair_id,
                "side": side,
                "note_id": note_id,
                "contact_id": contact_id,
                "body": body,
                "hash": digest,
                "fetched_at": now,
            }
            for contact_id, note_id, body, digest in notes
        ],
        conflict=("pair_id", "side", "note_id"),
        update=("body", "hash", "fetched_at"),
        update_indexed=("contact_id",),
    )


@dataclass(frozen=True, slots=True)
class DueLink:
    link_id: str
    a_id: str
    b_id: str
    notes_fetched_at: datetime | None


async def links_by_note_age(s: AsyncSession, pair_id: str, *, limit: int) -> list[DueLink]:
    """Active links whose notes were read longest ago (never read first): the rolling scan.

    A link's two contacts are read together, so side A's ``notes_fetched_at`` stands for both.
    Never-read and read links are two queries, each in the order of the index
    ``ix_snapshot_contact_notes_age`` (the databases disagree on where NULLs sort, and one
    ``NULLS FIRST`` ordering made both sort every link of the pair on every run).
    """
    if limit <= 0:
        return []
    base = (
        select(_LINK.c.id, _LINK.c.a_id, _LINK.c.b_id, _CONTACT.c.notes_fetched_at)
        .select_from(_CONTACT)
        .join(
            _LINK,
            (_LINK.c.pair_id == _CONTACT.c.pair_id)
            & (_LINK.c.a_id == _CONTACT.c.contact_id)
            & (_LINK.c.status == LinkStatus.ACTIVE.value),
        )
        .where(_CONTACT.c.pair_id == pair_id, _CONTACT.c.side == "a")
    )
    never = await s.execute(
        base.where(_CONTACT.c.notes_fetched_at.is_(None))
        .order_by(_CONTACT.c.contact_id)
        .limit(limit)
    )
    out = [DueLink(row.id, row.a_id, row.b_id, None) for row in never]
    if len(out) < limit:
        read = await s.execute(
            base.where(_CONTACT.c.notes_fetched_at.is_not(None))
            .order_by(_CONTACT.c.notes_fetched_at, _CONTACT.c.contact_id)
            .limit(limit - len(out))
        )
        out.extend(DueLink(row.id, row.a_id, row.b_id, row.notes_fetched_at) for row in read)
    return out


# ------------------------------------------------------------------------------------ links


async def link_ids_by_contact(
    s: AsyncSession, pair_id: str, side: SideName, contact_ids: Collection[str]
) -> dict[str, str]:
    """contact id on ``side`` -> the id of its active link, for the contacts that have one."""
    column = _LINK.c.a_id if side == "a" else _LINK.c.b_id
    active = LinkStatus.ACTIVE.value
    out: dict[str, str] = {}
    for batch in chunks(unique(contact_ids)):
        # The status is tested here, not in SQL: with it in the WHERE clause and a long IN
        # list, SQLite (no statistics) walks the (pair, status) index over every link of the
        # pair instead of looking each contact up (0.06 s against 0.01 s per statement at
        # 30,000 links).
        result = await s.execute(
            select(column, _LINK.c.id, _LINK.c.status).where(
                _LINK.c.pair_id == pair_id, in_values(s, column, batch)
            )
        )
        out.update((contact_id, link_id) for contact_id, link_id, st in result if st == active)
    return out


async def count_active_links(s: AsyncSession, pair_id: str) -> int:
    total = await s.scalar(
        select(func.count()).where(
            _LINK.c.pair_id == pair_id, _LINK.c.status == LinkStatus.ACTIVE.value
        )
    )
    return int(total or 0)


async def repoint_link(
    s: AsyncSession, link_id: str, side: SideName, contact_id: str, *, now: datetime
) -> None:
    """The link's contact on ``side`` is now ``contact_id`` (a deleted contact re-created)."""
    column = "a_id" if side == "a" else "b_id"
    await s.execute(
        update(_LINK).where(_LINK.c.id == link_id).values({column: contact_id, "updated_at": now})
    )


async def drop_bases(s: AsyncSession, link_ids: Collection[str]) -> None:
    """Forget what these links agreed on: their next diff starts as a new link's."""
    for batch in chunks(unique(link_ids)):
        await s.execute(delete(_NOTE_LINK).where(in_values(s, _NOTE_LINK.c.link_id, batch)))
        await s.execute(delete(_BASE).where(in_values(s, _BASE.c.link_id, batch)))


# -------------------------------------------------------------------------------- conflicts


@dataclass(frozen=True, slots=True)
class ActiveConflict:
    """An open or resolved-but-unapplied conflict, as a run needs it."""

    ref: OpenConflictRef
    link_id: str | None
    a_value: Any
    b_value: Any

    def candidate_ids(self, side: SideName) -> list[str]:
        """For a CONTACT_MATCH conflict: the contact ids it names on ``side``."""
        values = self.a_value if side == "a" else self.b_value
        if not isinstance(values, list):
            return []
        return [
            str(item["contact_id"])
            for item in values
            if isinstance(item, dict) and isinstance(item.get("contact_id"), str)
        ]


def fingerprint_of(kind: ConflictKind, scope: str, base: Any, a: Any, b: Any) -> str:
    """``ConflictSpec.fingerprint`` of stored values (the plan compares it to decide whether an
    open conflict needs refreshing)."""
    spec = ConflictSpec(
        kind=kind,
        scope=scope,
        link_id=None,
        base_value=base,
        a_value=a,
        b_value=b,
        reason=Reason(rule=Rule.RESOLUTION),
    )
    return spec.fingerprint()


async def active_conflicts(s: AsyncSession, pair_id: str) -> list[ActiveConflict]:
    """The pair's open and resolved conflicts, oldest first, each with its fingerprint."""
    result = await s.execute(
        select(
            _CONFLICT.c.id,
            _CONFLICT.c.link_id,
            _CONFLICT.c.kind,
            _CONFLICT.c.scope,
            _CONFLICT.c.status,
            _CONFLICT.c.resolution,
            _CONFLICT.c.base_value,
            _CONFLICT.c.a_value,
            _CONFLICT.c.b_value,
        )
        .where(
            _CONFLICT.c.pair_id == pair_id,
            _CONFLICT.c.status.in_((ConflictStatus.OPEN.value, ConflictStatus.RESOLVED.value)),
        )
        .order_by(_CONFLICT.c.detected_at, _CONFLICT.c.id)
    )
    out: list[ActiveConflict] = []
    for row in result:
        kind = ConflictKind(row.kind)
        resolution = (
            resolution_from_json(row.resolution)
            if row.status == ConflictStatus.RESOLVED.value and row.resolution
            else None
        )
        ref = OpenConflictRef(
            conflict_id=row.id,
            kind=kind,
            scope=row.scope,
            resolution=resolution,
            fingerprint=fingerprint_of(kind, row.scope, row.base_value, row.a_value, row.b_value),
            stored=(row.base_value, row.a_value, row.b_value),
        )
        out.append(ActiveConflict(ref, row.link_id, row.a_value, row.b_value))
    return out


async def reopen_conflicts(s: AsyncSession, conflict_ids: Collection[str], *, now: datetime) -> int:
    """Resolved conflicts whose resolution could not be carried out: open again, the
    resolution dropped (the audit log keeps it with the reason)."""
    reopened = 0
    for batch in chunks(unique(conflict_ids)):
        result = await s.execute(
            update(_CONFLICT)
            .where(
                _CONFLICT.c.id.in_(batch),
                _CONFLICT.c.status == ConflictStatus.RESOLVED.value,
            )
            .values(
                status=ConflictStatus.OPEN.value,
                resolution=None,
                resolved_by=None,
                resolved_at=None,
                updated_at=now,
            )
        )
        reopened += rowcount(result)
    return reopened


# --------------------------------------------------------------------------------- journal


@dataclass(frozen=True, slots=True)
class JournalOutcome:
    entry_id: int
    status: JournalStatus
    result: Mapping[str, Any] | None = None
    error: str | None = None


async def finish_entries(
    s: AsyncSession, outcomes: Sequence[JournalOutcome], *, now: datetime
) -> None:
    """Record the outcome of many pending entries (one statement per chunk); an entry that is
    no longer pending keeps its first outcome."""
    if not outcomes:
        return
    if dialect_name(s) == "postgresql":
        await _finish_entries_postgres(s, outcomes, now=now)
        return
    stmt = (
        update(_JOURNAL)
        .where(
            _JOURNAL.c.id == bindparam("entry_id"),
            _JOURNAL.c.status == JournalStatus.PENDING.value,
        )
        .values(
            status=bindparam("new_status"),
            done_at=bindparam("new_done_at"),
            result=bindparam("new_result"),
            error=bindparam("new_error"),
        )
    )
    for batch in chunks(outcomes):
        await s.execute(
            stmt,
            [
                {
                    "entry_id": o.entry_id,
                    "new_status": o.status.value,
                    "new_done_at": now,
                    "new_result": dict(o.result) if o.result is not None else None,
                    "new_error": o.error,
                }
                for o in batch
            ],
        )


# psycopg runs an executemany as one UPDATE per row (a round trip each, pipelined: ~100 us a
# row, 0.7 s for the 7,000 results of a 100,000-contact "changes" run); the outcomes as
# arrays joined to the journal by id are one statement.
_FINISH_POSTGRES = text(
    """
    UPDATE journal
    SET status = v.status, done_at = :done_at, result = CAST(v.result AS JSONB), error = v.error
    FROM unnest(:ids, :statuses, :results, :errors) AS v (id, status, result, error)
    WHERE journal.id = v.id AND journal.status = :pending
    """
).bindparams(
    bindparam("done_at", type_=UtcDateTime),
    bindparam("ids", type_=postgresql.ARRAY(BigInteger)),
    bindparam("statuses", type_=postgresql.ARRAY(Text)),
    bindparam("results", type_=postgresql.ARRAY(Text)),
    bindparam("errors", type_=postgresql.ARRAY(Text)),
)


async def _finish_entries_postgres(
    s: AsyncSession, outcomes: Sequence[JournalOutcome], *, now: datetime
) -> None:
    for batch in chunks(outcomes):
        await s.execute(
            _FINISH_POSTGRES,
            {
                "done_at": now,
                "ids": [o.entry_id for o in batch],
                "statuses": [o.status.value for o in batch],
                # JSON text as the JSON type would store it (NULL stays NULL: none_as_null).
                "results": [
                    encode_json(dict(o.result)) if o.result is not None else None for o in batch
                ],
                "errors": [o.error for o in batch],
                "pending": JournalStatus.PENDING.value,
            },
        )


# ------------------------------------------------------------------------------ runs, plans


async def fail_interrupted_runs(
    s: AsyncSession, pair_id: str, *, current_run_id: str, now: datetime
) -> list[str]:
    """Runs of the pair still marked running (their process stopped: a crash, a kill): failed,
    with a note that the current run finishes their work."""
    result = await s.execute(
        update(_RUN)
        .where(
            _RUN.c.pair_id == pair_id,
            _RUN.c.status == RunStatus.RUNNING.value,
            _RUN.c.id != current_run_id,
        )
        .values(
            status=RunStatus.FAILED.value,
            finished_at=now,
            errors=[
                f"interrupted: the process stopped during the run; run {current_run_id} "
                "finished its work"
            ],
        )
        .returning(_RUN.c.id)
    )
    return sorted(result.scalars())


async def previous_run_start(s: AsyncSession, pair_id: str, *, before: str) -> datetime | None:
    """When the pair's last run that applied changes (not a dry run) started."""
    latest: datetime | None = await s.scalar(
        select(func.max(_RUN.c.started_at)).where(
            _RUN.c.pair_id == pair_id,
            _RUN.c.id != before,
            _RUN.c.dry_run.is_(False),
        )
    )
    return latest


async def set_plan_context(s: AsyncSession, plan_id: str, context: Mapping[str, Any]) -> None:
    await s.execute(update(_PLAN).where(_PLAN.c.id == plan_id).values(context=dict(context)))


async def set_run_plan(s: AsyncSession, run_id: str, plan_id: str) -> None:
    await s.execute(update(_RUN).where(_RUN.c.id == run_id).values(plan_id=plan_id))


def sides_of(items: Iterable[SideContact]) -> dict[SideName, list[str]]:
    """Group (side, contact id) pairs by side, order kept."""
    out: dict[SideName, list[str]] = {"a": [], "b": []}
    for side, contact_id in items:
        out[side].append(contact_id)
    return out
