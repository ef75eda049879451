"""Notes: linked one to one across sides (note links), compared by normalised-body hash.

Only planned when BOTH sides' note lists were read fresh in this run (``ContactState.notes`` is
not None): a stale list could hide an edit or look like a deletion.

Per note link: changed on one side → copied; changed on both to the same text → adopted;
changed on both differently → the note-conflict policy; deleted on one side and unchanged on
the other → deleted there too (behind the delete guard); deleted on one side and edited on the
other → the delete-vs-edit policy; deleted on both → the note link is dropped. Notes no link
knows are first paired by body hash (no duplicates, and a crash between creating a note and
recording its link is recovered), then created on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.sides.base import SideName
from reconciler.sync.base import new_note_link_id
from reconciler.sync.context import OUTDATED_RESOLUTION, LinkContext
from reconciler.sync.explain import note_compared
from reconciler.sync.groups import Why
from reconciler.sync.match import match_notes
from reconciler.sync.model import (
    ActionKind,
    ConflictKind,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    NoteLinkBase,
    NoteState,
    OpenConflictRef,
    ResolutionChoice,
    Rule,
)
from reconciler.sync.normalise import note_body, note_hash
from reconciler.sync.policy import other_side, policy_label
from reconciler.sync.settle import writes_to_reach
from reconciler.sync.textmerge import merge_text

Body = str | None  # a note's body on one side, None where the note is gone


def plan_notes(ctx: LinkContext) -> None:
    a_notes, b_notes = ctx.a.notes, ctx.b.notes
    if a_notes is None or b_notes is None:
        return
    links = sorted(ctx.base.notes, key=lambda nl: nl.note_link_id)
    if not ctx.initial:
        # (A new link's note links are the notes its sides have in common, by body hash,
        # just recorded by its initial base: nothing to merge.)
        for note_link in links:
            _NoteLinkPlanner(ctx, note_link).plan()
    known = {nl.note_link_id for nl in links}
    for (group, scope), ref in sorted(ctx.open.items()):
        if group == "note" and scope not in known:
            ctx.out.close(ref)  # its note link no longer exists
    _plan_new_notes(ctx)


def initial_note_links(ctx: LinkContext) -> tuple[NoteLinkBase, ...]:
    """A new link's notes that are the same on both sides (paired by body hash, as
    ``_plan_new_notes`` pairs them): the note links its initial base starts with, under the ids
    apply gives them (``base.new_note_link_id``). None unless both note lists are fresh."""
    a_notes, b_notes = ctx.a.notes, ctx.b.notes
    if a_notes is None or b_notes is None:
        return ()
    links = []
    for a_note, b_note in match_notes(a_notes.values(), b_notes.values()).pairs:
        link_id = new_note_link_id(ctx.view.link_id, a_note.note_id, b_note.note_id)
        # note_body is idempotent: the canonical body's hash is the note's own.
        body = note_body(a_note.body)
        links.append(NoteLinkBase(link_id, a_note.note_id, b_note.note_id, body, a_note.hash))
    return tuple(links)


def _same_text(x: object, y: object) -> bool:
    """``_same`` for values read back from a stored conflict (a body, or None)."""
    return _same(x if isinstance(x, str) else None, y if isinstance(y, str) else None)


def _same(x: Body, y: Body) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return note_hash(x) == note_hash(y)


@dataclass(slots=True)
class _NoteLinkPlanner:
    ctx: LinkContext
    link: NoteLinkBase

    def note(self, side: SideName) -> NoteState | None:
        notes = self.ctx.state(side).notes
        assert notes is not None
        return notes.get(self.link.a_note_id if side == "a" else self.link.b_note_id)

    def body(self, side: SideName) -> Body:
        note = self.note(side)
        return None if note is None else note.body

    def compared(self, **extra: str | None) -> dict[str, str | None]:
        return note_compared(self.link.body, self.body("a"), self.body("b"), **extra)

    def plan(self) -> None:
        a, b, base = self.body("a"), self.body("b"), self.link.body
        ref = self.ctx.open_conflict("note", self.link.note_link_id)
        if ref is not None and ref.resolution is not None:
            if not self.ctx.resolution_outdated(ref, (a, b), _same_text):
                self._resolve(ref)
                return
            # Planned as the open conflict it is again (refreshed, or closed if agreed).
            self.ctx.out.reject(ref, OUTDATED_RESOLUTION)
        agree = _same(a, b)
        pin = self.ctx.pins.for_note(self.link.note_link_id)
        if pin is not None and pin.pin is not None and not agree:
            pinned = pin.pin
            replaced = self.body(other_side(pinned))
            self._reach(
                self.body(pinned),
                Why(Rule.OVERRIDE_PIN, override_id=pin.id, source_side=pinned),
                f"pinned to side {pinned}",
                self.compared(replaced=replaced),
            )
            if ref is not None:
                self.ctx.out.close(ref)
            return
        if ref is not None:
            if agree:
                self.ctx.out.close(ref)
                self._reach(a, Why(Rule.NOTE_SAME_EDIT), "sides now agree", self.compared())
            else:
                self._conflict(ref.kind, Why(Rule.NOTE_CLASH), "still in conflict")
            return
        if a is None or b is None:
            self._deleted(a, b)
        elif agree:
            if not _same(a, base):
                self._reach(a, Why(Rule.NOTE_SAME_EDIT), "same edit on both", self.compared())
        elif _same(a, base):
            self._reach(b, Why(Rule.NOTE_COPY, source_side="b"), "changed on B", self.compared())
        elif _same(b, base):
            self._reach(a, Why(Rule.NOTE_COPY, source_side="a"), "changed on A", self.compared())
        else:
            self._clash(a, b)

    def _deleted(self, a: Body, b: Body) -> None:
        if a is None and b is None:
            self.ctx.adopt(
                Why(Rule.NOTE_DELETE).reason(self.compared(), "deleted on both sides"),
                {"note_dropped": self.link.note_link_id},
            )
            return
        survivor: SideName = "a" if a is not None else "b"
        if _same(self.body(survivor), self.link.body):
            self._reach(
                None,
                Why(Rule.NOTE_DELETE),
                f"deleted on {other_side(survivor).upper()}, unchanged on {survivor.upper()}",
                self.compared(),
            )
            return
        policy = self.ctx.policy.note_delete_vs_edit
        label = policy_label("note_delete_vs_edit", policy)
        if policy is NoteDeleteEditPolicy.EDIT_WINS:
            why = Why(Rule.NOTE_DELETE_VS_EDIT, label, source_side=survivor)
            self._reach(self.body(survivor), why, "the edit wins: recreated", self.compared())
        elif policy is NoteDeleteEditPolicy.DELETE_WINS:
            why = Why(Rule.NOTE_DELETE_VS_EDIT, label)
            self._reach(None, why, "the deletion wins", self.compared())
        else:
            self._conflict(
                ConflictKind.NOTE_DELETE,
                Why(Rule.NOTE_DELETE_VS_EDIT, label),
                "deleted on one side, edited on the other",
            )

    def _clash(self, a: str, b: str) -> None:
        policy = self.ctx.policy.note_conflict
        label = policy_label("note_conflict", policy)
        if policy is NoteConflictPolicy.A_WINS:
            self._reach(a, Why(Rule.NOTE_CLASH, label, source_side="a"), "A wins", self.compared())
        elif policy is NoteConflictPolicy.B_WINS:
            self._reach(b, Why(Rule.NOTE_CLASH, label, source_side="b"), "B wins", self.compared())
        elif policy is NoteConflictPolicy.MERGE:
            merged = merge_text(self.link.body, a, b)
            if merged is None:
                self._conflict(ConflictKind.NOTE, Why(Rule.NOTE_CLASH, label), "edits overlap")
            else:
                compared = self.compared(merged=merged)
                self._reach(merged, Why(Rule.NOTE_CLASH, label), "merged cleanly", compared)
        elif policy is NoteConflictPolicy.KEEP_BOTH:
            self._keep_both(Why(Rule.NOTE_CLASH, label))
        else:
            self._conflict(ConflictKind.NOTE, Why(Rule.NOTE_CLASH, label), "edited on both sides")

    def _keep_both(self, why: Why) -> None:
        """Both versions become notes on both sides, nothing is overwritten.

        A's note keeps its link, now to a new copy of A's text on B; B's note gets a new link
        to a new copy of B's text on A. Each CREATE_NOTE's base effect pairs the created note
        with its source note (and drops any link still holding that source note), so either
        order of completion, or one failing, is finished by the next run without a duplicate.
        """
        a_note, b_note = self.note("a"), self.note("b")
        assert a_note is not None
        assert b_note is not None
        reason = why.reason(self.compared(), "kept both versions")
        copies: tuple[tuple[SideName, NoteState, str | None], ...] = (
            ("b", a_note, self.link.note_link_id),
            ("a", b_note, None),
        )
        for side, source, link_id in copies:
            self.ctx.write(
                ActionKind.CREATE_NOTE,
                side,
                reason,
                {"body": source.body, "note_link_id": link_id, "source_note_id": source.note_id},
                source_side=other_side(side),
            )

    def _resolve(self, ref: OpenConflictRef) -> None:
        assert ref.resolution is not None
        choice = ref.resolution.choice
        target: Body
        if choice is ResolutionChoice.A:
            target = self.body("a")
        elif choice is ResolutionChoice.B:
            target = self.body("b")
        elif choice is ResolutionChoice.BASE:
            # The base the person saw: a resolution a crash left half applied has moved the
            # base since (see ``settle``), and taking that one would undo the choice.
            stored = ref.stored[0] if ref.stored is not None else self.link.body
            target = stored if isinstance(stored, str) else self.link.body
        else:
            raw = ref.resolution.value
            if raw is not None and not isinstance(raw, str):
                self.ctx.out.reject(ref, "a custom note must be a text (or null to delete it)")
                return
            target = raw
        if self.note("a") is None and self.note("b") is None:
            self.ctx.out.close(ref)
            self._reach(None, Why(Rule.NOTE_DELETE), "deleted on both sides", self.compared())
            if target is not None:
                self.ctx.out.reject(
                    ref, "the note was deleted on both sides meanwhile: add it again as a new note"
                )
            return
        why = Why(Rule.RESOLUTION, conflict_id=ref.conflict_id)
        self._reach(target, why, f"resolved: {choice.value}", self.compared())
        self.ctx.out.close(ref)

    def _reach(self, target: Body, why: Why, detail: str, compared: dict[str, str | None]) -> None:
        """Make both sides hold ``target`` (None: no note), advancing the base accordingly."""
        if target is not None:
            target = note_body(target)
        writes = writes_to_reach(target, self.link.body, self.body("a"), self.body("b"), _same)
        reason = why.reason(compared, detail)
        for write in writes:
            side = write.side
            current = self.note(side)
            partner_id = self.link.b_note_id if side == "a" else self.link.a_note_id
            payload: dict[str, object]
            if target is None:
                assert current is not None
                kind = ActionKind.DELETE_NOTE
                payload = {
                    "note_id": current.note_id,
                    "note_link_id": self.link.note_link_id,
                    "replaced": current.body,
                }
            elif current is None:
                kind = ActionKind.CREATE_NOTE
                payload = {
                    "body": target,
                    "note_link_id": self.link.note_link_id,
                    "source_note_id": partner_id,
                }
            else:
                kind = ActionKind.UPDATE_NOTE
                payload = {
                    "note_id": current.note_id,
                    "body": target,
                    "note_link_id": self.link.note_link_id,
                    "a_note_id": self.link.a_note_id,
                    "b_note_id": self.link.b_note_id,
                    "replaced": current.body,
                }
            if write.settle is not None:
                settle = write.settle
                payload["settle"] = {
                    "when": None if settle.when is None else note_hash(settle.when),
                    "then": settle.then,
                    "else": settle.otherwise,
                }
            self.ctx.write(kind, side, reason, payload, source_side=why.source_side)
        if writes:
            return
        if target is None:
            self.ctx.adopt(reason, {"note_dropped": self.link.note_link_id})
        elif not _same(target, self.link.body):
            self.ctx.adopt(
                reason,
                {
                    "note": {
                        "note_link_id": self.link.note_link_id,
                        "a_note_id": self.link.a_note_id,
                        "b_note_id": self.link.b_note_id,
                        "body": target,
                    }
                },
            )

    def _conflict(self, kind: ConflictKind, why: Why, detail: str) -> None:
        self.ctx.conflict(
            kind,
            self.link.note_link_id,
            (self.link.body, self.body("a"), self.body("b")),
            why.reason(self.compared(), detail),
        )


def _plan_new_notes(ctx: LinkContext) -> None:
    """Notes no link knows: pair equal bodies across sides, create the rest on the other side.

    (A new link has no such pairs left: its initial base already holds them, see
    ``initial_note_links``.)

    Under a contact or pair pin the pinned side is authoritative: a note that only the other
    side has is deleted there (its body is kept in the action's ``replaced``).
    """
    a_notes, b_notes = ctx.a.notes, ctx.b.notes
    assert a_notes is not None
    assert b_notes is not None
    linked_a = {nl.a_note_id for nl in ctx.base.notes}
    linked_b = {nl.b_note_id for nl in ctx.base.notes}
    new_a = [n for n in a_notes.values() if n.note_id not in linked_a]
    new_b = [n for n in b_notes.values() if n.note_id not in linked_b]
    if not new_a and not new_b:
        return
    matching = match_notes(new_a, new_b)
    for a_note, b_note in matching.pairs:
        ctx.adopt(
            Why(Rule.NOTE_MATCH).reason(
                note_compared(None, a_note.body, b_note.body), "same body on both sides"
            ),
            {
                "note": {
                    "note_link_id": None,
                    "a_note_id": a_note.note_id,
                    "b_note_id": b_note.note_id,
                    "body": note_body(a_note.body),
                }
            },
        )
    pin = ctx.pins.for_contact()
    for side, notes in (("a", matching.a_only), ("b", matching.b_only)):
        source: SideName = "a" if side == "a" else "b"
        for note in notes:
            compared = note_compared(
                None,
                note.body if source == "a" else None,
                note.body if source == "b" else None,
            )
            if pin is not None and pin.pin == other_side(source):
                ctx.write(
                    ActionKind.DELETE_NOTE,
                    source,
                    Why(Rule.OVERRIDE_PIN, override_id=pin.id).reason(
                        {**compared, "replaced": note_hash(note.body)},
                        f"pinned to side {pin.pin}: note only on {source.upper()}",
                    ),
                    {"note_id": note.note_id, "note_link_id": None, "replaced": note.body},
                )
                continue
            ctx.write(
                ActionKind.CREATE_NOTE,
                other_side(source),
                Why(Rule.NOTE_NEW, source_side=source).reason(compared, "new note"),
                {
                    "body": note_body(note.body),
                    "note_link_id": None,
                    "source_note_id": note.note_id,
                },
                source_side=source,
            )
