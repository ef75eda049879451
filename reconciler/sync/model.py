"""The engine's data model: what diff and plan read and what apply executes.

Everything here is plain, immutable data with no I/O, so that diff, policy and plan are pure
functions and a plan can be stored, explained, and applied later.

Vocabulary
- *pair*: two sides (``a`` and ``b``) kept in agreement, with a policy.
- *link*: one contact on side A known to be the same person as one contact on side B.
- *base*: per link, the last state both sides agreed on (core fields, tag set, note links).
- *note link*: one note on A paired with one note on B, with the base body and its hash.
- *action*: one step of a plan; writes carry their target side; every action has a reason.
- *conflict*: a disagreement policy could not settle; kept open with base, A and B values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from reconciler.sides.base import CoreField, SideName

# --------------------------------------------------------------------------------------------
# Policies (per pair; overrides beat them)


class TagsInitialPolicy(StrEnum):
    """How to merge tag sets of a newly linked contact (no base yet)."""

    UNION = "union"
    A_WINS = "a_wins"
    B_WINS = "b_wins"
    MANUAL = "manual"


class NoteConflictPolicy(StrEnum):
    A_WINS = "a_wins"
    B_WINS = "b_wins"
    MERGE = "merge"  # three-way text merge when the edits do not overlap, else a conflict
    KEEP_BOTH = "keep_both"  # both versions become notes on both sides
    MANUAL = "manual"


class FieldConflictPolicy(StrEnum):
    A_WINS = "a_wins"
    B_WINS = "b_wins"
    MANUAL = "manual"
    # Explicit opt-in only: compares the contacts' dateUpdated and records both in the reason.
    NEWEST_WINS = "newest_wins"


class DeletePolicy(StrEnum):
    ARCHIVE = "archive"  # tag the surviving contact with the archive tag and unlink
    DELETE = "delete"  # delete on the other side too (behind the delete guard)
    IGNORE = "ignore"  # unlink, touch nothing


class NoteDeleteEditPolicy(StrEnum):
    """A note deleted on one side and edited on the other."""

    EDIT_WINS = "edit_wins"  # recreate the edited note where it was deleted (default)
    DELETE_WINS = "delete_wins"
    MANUAL = "manual"


class CreateDirection(StrEnum):
    """Where unmatched contacts may be created."""

    BOTH = "both"
    A_TO_B = "a_to_b"
    B_TO_A = "b_to_a"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PairPolicy:
    tags_initial: TagsInitialPolicy = TagsInitialPolicy.UNION
    note_conflict: NoteConflictPolicy = NoteConflictPolicy.MANUAL
    note_delete_vs_edit: NoteDeleteEditPolicy = NoteDeleteEditPolicy.EDIT_WINS
    field_conflict: FieldConflictPolicy = FieldConflictPolicy.MANUAL
    delete: DeletePolicy = DeletePolicy.ARCHIVE
    create: CreateDirection = CreateDirection.BOTH
    # Tag names compare after trimming and, unless this is False, case-folding.
    tags_case_insensitive: bool = True
    archive_tag: str = "reconciler-archived"
    # Delete guard: a run planning to delete more than this share of the linked contacts or of
    # the notes it looked at stops for approval. ``delete_guard_min`` avoids tripping on tiny pairs.
    delete_guard_share: float = 0.1
    delete_guard_min: int = 5
    default_phone_region: str = "1"  # country calling code assumed for phones without "+"


# --------------------------------------------------------------------------------------------
# Overrides


class OverrideScope(StrEnum):
    PAIR = "pair"
    CONTACT = "contact"
    TAG = "tag"
    NOTE = "note"
    FIELD = "field"


@dataclass(frozen=True, slots=True)
class Override:
    """A person's decision that beats policy.

    ``pin`` makes one side authoritative within the scope: the other side's differing values are
    overwritten with the pinned side's (each overwrite is recorded with the value it replaced).
    ``exclude`` (scope CONTACT only) takes a link out of sync entirely.
    Narrower scopes beat wider ones: note/field/tag > contact > pair.
    """

    id: str
    scope: OverrideScope
    pin: SideName | None = None
    exclude: bool = False
    link_id: str | None = None  # CONTACT, NOTE, FIELD (optional for TAG: all contacts if None)
    tag_key: str | None = None  # TAG
    note_link_id: str | None = None  # NOTE
    field_name: CoreField | None = None  # FIELD
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


# --------------------------------------------------------------------------------------------
# What the diff reads: the state of each side and the base, normalised


@dataclass(frozen=True, slots=True)
class NoteState:
    note_id: str
    body: str
    hash: str  # of the normalised body (see normalise.note_hash)


@dataclass(frozen=True, slots=True)
class ContactState:
    """One side's current view of a contact, normalised.

    ``tags`` maps the comparison key of each tag to its name as this side spells it.
    ``notes`` is None when this side's notes were not read fresh in this run: the diff then
    leaves notes of the link alone (never compare a stale note list: it could hide an edit).
    """

    contact_id: str
    fields: Mapping[CoreField, str | None]
    tags: Mapping[str, str]
    notes: Mapping[str, NoteState] | None = None
    date_updated: datetime | None = None


class Absence(StrEnum):
    """Why a side has no ``ContactState`` for a link."""

    DELETED = "deleted"  # gone from a complete snapshot AND confirmed by a 404
    UNKNOWN = "unknown"  # not seen, but not confirmed gone: never act on it


SideView = ContactState | Absence


@dataclass(frozen=True, slots=True)
class NoteLinkBase:
    note_link_id: str
    a_note_id: str
    b_note_id: str
    body: str
    hash: str


@dataclass(frozen=True, slots=True)
class LinkBase:
    fields: Mapping[CoreField, str | None]
    tags: Mapping[str, str]  # key -> agreed display name
    notes: tuple[NoteLinkBase, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenConflictRef:
    """An open conflict the diff must respect (the scope stays untouched until resolved).

    ``fingerprint`` is ``ConflictSpec.fingerprint()`` of the values last stored: the plan
    re-emits the spec only when the values changed. ``None`` (unknown) re-emits every run,
    which the store's upsert by link+kind+scope absorbs.

    ``stored`` is those values, (base, A, B): what a person resolving the conflict saw. A
    resolution is carried out only while each side still holds its stored value (or already
    the resolution's, from a partly applied resolution); ``None`` (unknown) does not check.
    """

    conflict_id: str
    kind: ConflictKind
    scope: str
    resolution: Resolution | None = None
    fingerprint: str | None = None
    stored: tuple[object, object, object] | None = None


@dataclass(frozen=True, slots=True)
class LinkView:
    """Everything the diff needs for one link."""

    link_id: str
    a_contact_id: str
    b_contact_id: str
    a: SideView
    b: SideView
    base: LinkBase | None  # None for a newly matched link
    open_conflicts: tuple[OpenConflictRef, ...] = ()
    excluded: bool = False


@dataclass(frozen=True, slots=True)
class UnlinkedContact:
    """A contact seen on one side that no link knows yet.

    ``retired`` marks a contact whose link ended because its peer was deleted (delete policy
    ``archive`` or ``ignore``): it is never matched or created again automatically, otherwise
    the next run would resurrect the deleted peer. The store sets it from the ``retire`` payload
    of ARCHIVE_CONTACT / UNLINK_CONTACTS. Contacts carrying the pair's archive tag are treated
    the same way even without it.
    """

    side: SideName
    state: ContactState
    retired: bool = False


# --------------------------------------------------------------------------------------------
# What the plan says


class Rule(StrEnum):
    """The merge rule that produced an action or conflict (DESIGN.md, Merge semantics)."""

    TAGS_MERGE = "tags.three_way_merge"
    TAGS_INITIAL = "tags.initial"
    NOTE_COPY = "note.changed_one_side"
    NOTE_SAME_EDIT = "note.changed_both_same"
    NOTE_CLASH = "note.changed_both_differently"
    NOTE_DELETE = "note.deleted_one_side"
    NOTE_DELETE_VS_EDIT = "note.deleted_vs_edited"
    NOTE_NEW = "note.new"
    NOTE_MATCH = "note.matched_by_hash"
    FIELD_COPY = "field.changed_one_side"
    FIELD_SAME_EDIT = "field.changed_both_same"
    FIELD_CLASH = "field.changed_both_differently"
    FIELD_INITIAL = "field.initial"
    CONTACT_MATCH = "contact.matched"
    CONTACT_AMBIGUOUS = "contact.ambiguous_match"
    CONTACT_CREATE = "contact.create"
    CONTACT_DELETE = "contact.deleted_one_side"
    OVERRIDE_PIN = "override.pin"
    RESOLUTION = "conflict.resolution"
    # A link without a base (newly matched) records what its sides already agree on, and the
    # tag base its initial-tags policy implies, before anything is written.
    INITIAL_BASE = "link.initial_base"
    CONTACT_DELETED_BOTH = "contact.deleted_both_sides"


@dataclass(frozen=True, slots=True)
class Reason:
    rule: Rule
    policy: str | None = None  # e.g. "note_conflict=a_wins"
    override_id: str | None = None
    conflict_id: str | None = None
    # The hashes (or normalised values) compared: {"base": ..., "a": ..., "b": ...}
    compared: Mapping[str, str | None] = field(default_factory=dict)
    detail: str = ""


class ActionKind(StrEnum):
    LINK_CONTACTS = "link_contacts"
    CREATE_CONTACT = "create_contact"
    UPDATE_FIELDS = "update_fields"
    ADD_TAGS = "add_tags"
    REMOVE_TAGS = "remove_tags"
    CREATE_NOTE = "create_note"
    UPDATE_NOTE = "update_note"
    DELETE_NOTE = "delete_note"
    DELETE_CONTACT = "delete_contact"
    ARCHIVE_CONTACT = "archive_contact"
    ADOPT_BASE = "adopt_base"  # both sides already agree: record it, no write
    UNLINK_CONTACTS = "unlink_contacts"  # end the link, no write (delete policy ignore, both gone)


WRITE_KINDS = frozenset(
    {
        ActionKind.CREATE_CONTACT,
        ActionKind.UPDATE_FIELDS,
        ActionKind.ADD_TAGS,
        ActionKind.REMOVE_TAGS,
        ActionKind.CREATE_NOTE,
        ActionKind.UPDATE_NOTE,
        ActionKind.DELETE_NOTE,
        ActionKind.DELETE_CONTACT,
        ActionKind.ARCHIVE_CONTACT,
    }
)


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan.

    ``side`` is the side written to (None for actions that write nothing). ``link_id`` is None
    only for actions on a contact that has no link yet (CREATE_CONTACT, LINK_CONTACTS and the
    actions that follow them in the same plan), which name their source in
    ``source_side``/``source_id``.

    Pending links and contacts: LINK_CONTACTS and CREATE_CONTACT carry ``payload["link_ref"]``,
    a plan-local name for the link they make (and, for CREATE_CONTACT, the contact it makes).
    Every later action of the same plan that needs that link or contact carries the same
    ``link_ref`` and has ``link_id`` None (and ``contact_id`` None when its target is the
    contact being created). Apply maps the ref to the real ids once the creating action is done.
    A CREATE_CONTACT with ``link_id`` set (re-creating a deleted contact of an existing link)
    uses ``link_ref`` the same way for its follow-up CREATE_NOTEs.

    ``payload`` holds the kind's data, JSON-serialisable:
    - LINK_CONTACTS: {"a_id", "b_id", "link_ref", "via": "email"|"phone"|"resolution"}
      Base effect: the link exists, base None (the next action is its initial ADOPT_BASE).
    - CREATE_CONTACT: {"fields": {...}, "tags": [names], "tag_keys": [keys, same order],
      "link_ref", "relink"?: true}  (source_side/source_id name the original). Base effect: a
      fresh base of exactly these fields and tags, no note links (``relink``: the link's
      contact on ``side`` is replaced by the created one, the old base is dropped).
    - UPDATE_FIELDS: {"changes": {field: value}, "replaced": {field: value before}, "settle"?}
    - ADD_TAGS / REMOVE_TAGS: {"tags": [display names], "keys": [tag keys, same order],
      "settle"?}
    - CREATE_NOTE: {"body", "note_link_id" | None, "source_note_id", "settle"?}
      ``source_note_id`` is the note on the other side that the created note is paired with.
      Base effect: the note link ``note_link_id`` (a new one when None) pairs the created note
      with ``source_note_id``; any other note link holding ``source_note_id`` is dropped (a
      note is in at most one note link). Base body: the body (or per ``settle``).
    - UPDATE_NOTE: {"note_id", "body", "note_link_id", "a_note_id", "b_note_id", "replaced",
      "settle"?}
    - DELETE_NOTE: {"note_id", "note_link_id" | None, "replaced", "settle"?}; note_link_id None
      deletes a note no link knows (a pin removing the unpinned side's new note).
    - DELETE_CONTACT / ARCHIVE_CONTACT: {"tag"?, "tag_key"?, "retire": {"side", "contact_id"}}
      ARCHIVE adds ``tag`` to the contact, then both end the link.
    - UNLINK_CONTACTS: {"retire"?: {"side", "contact_id"}} ends the link, writes nothing.
    - ADOPT_BASE: {"initial"?: true, "fields"?: {...}, "tags"?: {key: name},
      "tags_dropped"?: [keys], "tags_all"?: {key: name},
      "note"?: {note_link_id | None, a_note_id, b_note_id, body}, "note_dropped"?: note_link_id,
      "notes"?: [{a_note_id, b_note_id, body}]}.
      ``initial`` creates the base of a link that has none (its ``tags`` then replace the tag
      base wholesale; its ``notes`` are the notes both sides already have, each a new note
      link); otherwise entries are set one by one.
      ``tags_all`` replaces the tag base wholesale (re-filing it under the current tag keys).
    - "replaced" keeps the value a write overwrote, so every overwrite is recoverable from the
      journal/audit log (reasons carry only its hash).
    - "settle" (only on writes that are one of two writes to the same item, one per side, e.g.
      a clean text merge or a custom resolution): how the base advances so that a partial
      failure is finished correctly by the next run. Per item
      ``{"when": v, "then": v, "else": v}``: if the base item currently equals ``when`` it
      becomes ``then``, otherwise ``else``. Items are the field (UPDATE_FIELDS, keyed by field
      name), the tag key (tags: ``when`` is a presence bool, ``then``/``else`` a name or None
      for absent), or the note link (notes: ``when`` is a note hash or None for no link,
      ``then``/``else`` a body or None for "drop the note link"). See ``sync.base.base_after``.
    """

    kind: ActionKind
    reason: Reason
    side: SideName | None = None
    link_id: str | None = None
    contact_id: str | None = None  # the target contact on ``side``
    source_side: SideName | None = None
    source_id: str | None = None
    payload: Mapping[str, object] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return self.kind in WRITE_KINDS

    def copied_contact(self) -> tuple[SideName, str] | None:
        """The contact a CREATE_CONTACT copies to ``side`` (its source); None for others."""
        if self.kind is not ActionKind.CREATE_CONTACT:
            return None
        if self.source_side is None or self.source_id is None:
            return None
        return (self.source_side, self.source_id)


class ConflictKind(StrEnum):
    TAGS_INITIAL = "tags_initial"
    FIELD = "field"
    NOTE = "note"
    NOTE_DELETE = "note_delete"
    CONTACT_MATCH = "contact_match"
    CONTACT_DELETE = "contact_delete"


@dataclass(frozen=True, slots=True)
class ConflictSpec:
    """A conflict the plan opens (or refreshes, if one is already open on the same scope).

    ``scope`` identifies what is in conflict within the link: a field name, a note link id,
    "tags", or for CONTACT_MATCH the normalised identity that matched ambiguously.
    Values are JSON-serialisable (strings, lists of strings, dicts), both versions always kept.
    """

    kind: ConflictKind
    scope: str
    link_id: str | None
    base_value: object
    a_value: object
    b_value: object
    reason: Reason
    proposed: Resolution | None = None
    # For a link this plan creates (``link_id`` None): the ``link_ref`` of its LINK_CONTACTS.
    link_ref: str | None = None

    def fingerprint(self) -> str:
        """A stable hash of what the conflict says (kind, scope and the three values)."""
        canonical = json.dumps(
            [self.kind.value, self.scope, self.base_value, self.a_value, self.b_value],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class ResolutionChoice(StrEnum):
    A = "A"
    B = "B"
    BASE = "BASE"
    CUSTOM = "CUSTOM"


@dataclass(frozen=True, slots=True)
class Resolution:
    choice: ResolutionChoice
    value: object = None  # CUSTOM only


@dataclass(frozen=True, slots=True)
class RejectedResolution:
    """A resolution the plan could not carry out; the conflict stays open, the message says why."""

    conflict_id: str
    message: str


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """The plan for one link (or one unlinked contact): actions in order, conflicts to open."""

    link_id: str | None
    actions: tuple[Action, ...] = ()
    conflicts: tuple[ConflictSpec, ...] = ()
    # Conflicts that no longer hold (both sides now agree, or a resolution was applied).
    closed_conflicts: tuple[str, ...] = ()
    rejected_resolutions: tuple[RejectedResolution, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    links: tuple[LinkPlan, ...]

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for lp in self.links for a in lp.actions)

    @property
    def conflicts(self) -> tuple[ConflictSpec, ...]:
        return tuple(c for lp in self.links for c in lp.conflicts)

    @property
    def closed_conflicts(self) -> tuple[str, ...]:
        return tuple(c for lp in self.links for c in lp.closed_conflicts)

    @property
    def rejected_resolutions(self) -> tuple[RejectedResolution, ...]:
        return tuple(r for lp in self.links for r in lp.rejected_resolutions)

    @property
    def is_empty(self) -> bool:
        """Nothing to do: no action, no conflict to open, close or refuse."""
        return not any(
            lp.actions or lp.conflicts or lp.closed_conflicts or lp.rejected_resolutions
            for lp in self.links
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind.value] = out.get(action.kind.value, 0) + 1
        return out


Outcome = Literal["applied", "parked", "skipped"]
