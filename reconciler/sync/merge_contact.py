"""A linked contact confirmed deleted on one or both sides.

``Absence.DELETED`` is only reported after a complete snapshot AND a 404 for that contact; an
``UNKNOWN`` absence never reaches this module (the link is left alone). Deleted on both → the
link ends. Deleted on one side → if the survivor is unchanged since the base (fields, tags, and
notes when they were read), the pair's delete policy: archive (tag the survivor, unlink),
delete (delete the survivor too), ignore (unlink only). A survivor edited since the base turns
the deletion into a CONTACT_DELETE conflict: nothing is deleted.

Resolving that conflict (or pinning the contact) for the deleted side applies the delete
policy; for the surviving side re-creates the contact where it was deleted, with the survivor's
fields, tags and notes, and points the link at the new contact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from reconciler.sides.base import CORE_FIELDS, CoreField, SideName
from reconciler.sync.context import CONTACT_SCOPE, LinkPlanBuilder, keyed_tags
from reconciler.sync.groups import Why
from reconciler.sync.model import (
    Absence,
    Action,
    ActionKind,
    ConflictKind,
    ConflictSpec,
    ContactState,
    DeletePolicy,
    LinkView,
    OpenConflictRef,
    PairPolicy,
    ResolutionChoice,
    Rule,
)
from reconciler.sync.normalise import note_body, note_hash, tag_key, value_hash
from reconciler.sync.policy import Pins, other_side, policy_label


def plan_absence(
    view: LinkView,
    policy: PairPolicy,
    pins: Pins,
    open_refs: dict[tuple[str, str], OpenConflictRef],
    out: LinkPlanBuilder,
) -> None:
    """Plan a link where at least one side is ``Absence.DELETED`` (and none UNKNOWN)."""
    if isinstance(view.a, Absence) and isinstance(view.b, Absence):
        out.add(
            Action(
                kind=ActionKind.UNLINK_CONTACTS,
                reason=Why(Rule.CONTACT_DELETED_BOTH).reason(
                    {
                        "base": None
                        if view.base is None
                        else value_hash(_summary(view.base.fields, view.base.tags)),
                        "a": None,
                        "b": None,
                    },
                    "deleted on both sides",
                ),
                link_id=view.link_id,
            )
        )
        _close_all(open_refs, out)
        return
    survivor_side: SideName = "b" if isinstance(view.a, Absence) else "a"
    survivor = view.b if survivor_side == "b" else view.a
    assert isinstance(survivor, ContactState)
    gone = other_side(survivor_side)
    ref = open_refs.get(("contact", CONTACT_SCOPE))
    planner = _Deletion(view, policy, survivor_side, survivor, out)
    if ref is not None and ref.resolution is not None:
        choice = ref.resolution.choice
        if choice not in (ResolutionChoice.A, ResolutionChoice.B):
            out.reject(
                ref,
                "a deleted contact is resolved by choosing a side: the deleted side "
                "(apply the delete policy) or the surviving side (re-create the contact)",
            )
            return
        chosen: SideName = "a" if choice is ResolutionChoice.A else "b"
        why = Why(Rule.RESOLUTION, conflict_id=ref.conflict_id)
        if chosen == gone:
            planner.apply_delete_policy(why, f"resolved: the deletion on {gone.upper()} stands")
        else:
            planner.recreate(why, f"resolved: the contact on {survivor_side.upper()} stands")
        _close_all(open_refs, out)
        return
    pin = pins.for_contact()
    if pin is not None and pin.pin is not None:
        why = Why(Rule.OVERRIDE_PIN, override_id=pin.id, source_side=pin.pin)
        if pin.pin == gone:
            planner.apply_delete_policy(why, f"pinned to side {gone}, where it was deleted")
        else:
            planner.recreate(why, f"pinned to side {survivor_side}, where it still exists")
        _close_all(open_refs, out)
        return
    if ref is None and _unchanged_since_base(view, survivor_side, survivor, policy):
        why = Why(Rule.CONTACT_DELETE, policy_label("delete", policy.delete))
        planner.apply_delete_policy(why, f"deleted on {gone.upper()}, unchanged on the other")
        _close_all(open_refs, out)
        return
    planner.conflict(ref)


class _Deletion:
    def __init__(
        self,
        view: LinkView,
        policy: PairPolicy,
        survivor_side: SideName,
        survivor: ContactState,
        out: LinkPlanBuilder,
    ) -> None:
        self.view = view
        self.policy = policy
        self.side = survivor_side
        self.survivor = survivor
        self.out = out
        self.survivor_id = view.a_contact_id if survivor_side == "a" else view.b_contact_id

    def _compared(self) -> dict[str, str | None]:
        base = self.view.base
        return {
            "base": None if base is None else value_hash(_summary(base.fields, base.tags)),
            self.side: value_hash(_summary(self.survivor.fields, self.survivor.tags)),
            other_side(self.side): None,
        }

    def apply_delete_policy(self, why: Why, detail: str) -> None:
        reason = why.reason(self._compared(), detail)
        retire = {"side": self.side, "contact_id": self.survivor_id}
        if self.policy.delete is DeletePolicy.ARCHIVE:
            tag = self.policy.archive_tag
            self.out.add(
                Action(
                    kind=ActionKind.ARCHIVE_CONTACT,
                    reason=reason,
                    side=self.side,
                    contact_id=self.survivor_id,
                    payload={
                        "tag": tag,
                        "tag_key": tag_key(tag, case_insensitive=self.policy.tags_case_insensitive),
                        "retire": retire,
                    },
                    link_id=self.view.link_id,
                )
            )
        elif self.policy.delete is DeletePolicy.DELETE:
            self.out.add(
                Action(
                    kind=ActionKind.DELETE_CONTACT,
                    reason=reason,
                    side=self.side,
                    contact_id=self.survivor_id,
                    payload={"retire": retire},
                    link_id=self.view.link_id,
                )
            )
        else:
            self.out.add(
                Action(
                    kind=ActionKind.UNLINK_CONTACTS,
                    reason=reason,
                    payload={"retire": retire},
                    link_id=self.view.link_id,
                )
            )

    def recreate(self, why: Why, detail: str) -> None:
        """The survivor stands: create it again where it was deleted, notes included."""
        target = other_side(self.side)
        link_ref = f"recreate:{self.view.link_id}"
        for action in create_contact_actions(
            self.survivor,
            source_side=self.side,
            target_side=target,
            link_ref=link_ref,
            policy=self.policy,
            reason_why=why,
            detail=detail,
            link_id=self.view.link_id,
        ):
            self.out.add(action)

    def conflict(self, ref: OpenConflictRef | None) -> None:
        base = self.view.base
        values: dict[SideName, object] = {
            self.side: _conflict_value(self.survivor),
            other_side(self.side): None,
        }
        spec = ConflictSpec(
            kind=ConflictKind.CONTACT_DELETE,
            scope=CONTACT_SCOPE,
            link_id=self.view.link_id,
            base_value=None
            if base is None
            else {
                "fields": {name: base.fields.get(name) for name in CORE_FIELDS},
                "tags": sorted(base.tags.values()),
            },
            a_value=values["a"],
            b_value=values["b"],
            reason=Why(Rule.CONTACT_DELETE, policy_label("delete", self.policy.delete)).reason(
                self._compared(),
                f"deleted on {other_side(self.side).upper()}, edited on {self.side.upper()}"
                if ref is None
                else "still in conflict",
            ),
        )
        self.out.open_conflict(spec, ref)


def create_contact_actions(
    source: ContactState,
    *,
    source_side: SideName,
    target_side: SideName,
    link_ref: str,
    policy: PairPolicy,
    reason_why: Why,
    detail: str,
    link_id: str | None = None,
) -> list[Action]:
    """CREATE_CONTACT of ``source`` on ``target_side``, then a CREATE_NOTE per known note.

    The notes target the contact being created (``contact_id`` None, same ``link_ref``); apply
    runs them after the CREATE_CONTACT it depends on. When the source's notes were not read in
    this run, the next run finds them as new notes of the link and creates them then.
    """
    tags = keyed_tags(source.tags, case_insensitive=policy.tags_case_insensitive)
    payload: dict[str, object] = {
        "fields": {name: source.fields.get(name) for name in CORE_FIELDS},
        "tags": [tags[key] for key in sorted(tags)],
        "tag_keys": sorted(tags),
        "link_ref": link_ref,
    }
    if link_id is not None:
        payload["relink"] = True
    compared: dict[str, str | None] = {
        source_side: value_hash(_summary(source.fields, source.tags)),
        target_side: None,
    }
    actions = [
        Action(
            kind=ActionKind.CREATE_CONTACT,
            reason=reason_why.reason(compared, detail),
            side=target_side,
            link_id=link_id,
            source_side=source_side,
            source_id=source.contact_id,
            payload=payload,
        )
    ]
    for note in sorted((source.notes or {}).values(), key=lambda n: n.note_id):
        actions.append(
            Action(
                kind=ActionKind.CREATE_NOTE,
                reason=Why(Rule.NOTE_NEW, source_side=source_side).reason(
                    {source_side: note_hash(note.body), target_side: None},
                    "note of a contact being created",
                ),
                side=target_side,
                link_id=link_id,
                source_side=source_side,
                source_id=source.contact_id,
                payload={
                    "body": note_body(note.body),
                    "note_link_id": None,
                    "source_note_id": note.note_id,
                    "link_ref": link_ref,
                },
            )
        )
    return actions


def _unchanged_since_base(
    view: LinkView, side: SideName, state: ContactState, policy: PairPolicy
) -> bool:
    base = view.base
    if base is None:
        return False  # nothing agreed yet: any content may be an edit
    for name in CORE_FIELDS:
        if state.fields.get(name) != base.fields.get(name):
            return False
    ci = policy.tags_case_insensitive
    if (
        keyed_tags(state.tags, case_insensitive=ci).keys()
        != keyed_tags(base.tags, case_insensitive=ci).keys()
    ):
        return False
    if state.notes is None:
        return True  # notes not read in this run: judged on fields and tags only
    linked = {(nl.a_note_id if side == "a" else nl.b_note_id): nl.hash for nl in base.notes}
    if set(state.notes) != set(linked):
        return False
    return all(note_hash(note.body) == linked[nid] for nid, note in state.notes.items())


def _close_all(open_refs: dict[tuple[str, str], OpenConflictRef], out: LinkPlanBuilder) -> None:
    """The link ends or starts afresh: none of its open conflicts holds any more."""
    for _key, ref in sorted(open_refs.items()):
        out.close(ref)


def _summary(fields: Mapping[CoreField, str | None], tags: Mapping[str, str]) -> str:
    """A canonical text of a contact's content, only ever hashed (never shown)."""
    return json.dumps(
        [{name: fields.get(name) for name in CORE_FIELDS}, sorted(tags.values())],
        ensure_ascii=False,
    )


def _conflict_value(state: ContactState) -> dict[str, object]:
    value: dict[str, object] = {
        "contact_id": state.contact_id,
        "fields": {name: state.fields.get(name) for name in CORE_FIELDS},
        "tags": sorted(state.tags.values()),
    }
    if state.notes is not None:
        value["notes"] = [state.notes[nid].body for nid in sorted(state.notes)]
    return value
