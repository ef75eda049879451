"""The three-way diff of one link: ``plan_link``.

Order of authority within a scope (a field, the tag set, a note link, the contact itself):
a resolution of its open conflict > an active pin (override) > the open conflict itself (the
scope stays untouched on both sides until resolved, or closed once the sides agree) > the
merge rule and the pair's policy. ``UNKNOWN`` absences and excluded links get no actions at all.

A link without a base (newly matched) first gets an initial ADOPT_BASE recording what both
sides already agree on (equal fields, the tag base its initial-tags policy implies, and the
notes with the same body on both sides); the rest of the plan is then the ordinary three-way
merge against that effective base, which is exactly the base apply holds once the ADOPT_BASE
is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from reconciler.sides.base import CORE_FIELDS, CoreField
from reconciler.sync.context import (
    CONTACT_SCOPE,
    LinkContext,
    LinkPlanBuilder,
    index_open,
)
from reconciler.sync.explain import tags_compared
from reconciler.sync.groups import Why
from reconciler.sync.merge_contact import plan_absence
from reconciler.sync.merge_fields import plan_fields
from reconciler.sync.merge_notes import initial_note_links, plan_notes
from reconciler.sync.merge_tags import initial_tag_base, plan_tags
from reconciler.sync.model import (
    Absence,
    ContactState,
    LinkBase,
    LinkPlan,
    LinkView,
    Override,
    PairPolicy,
    Rule,
)
from reconciler.sync.normalise import normalised_fields, value_hash
from reconciler.sync.policy import PinIndex, policy_label

_NO_BASE = LinkBase(fields={}, tags={})  # the effective base before a new link's initial one


def plan_link(
    view: LinkView, policy: PairPolicy, overrides: Sequence[Override], now: datetime
) -> LinkPlan:
    """Actions and conflicts that bring one link's sides (and its base) into agreement."""
    return plan_view(view, policy, PinIndex(overrides, now, policy), now)


def plan_view(
    view: LinkView,
    policy: PairPolicy,
    pins: PinIndex,
    now: datetime,
    *,
    normal: bool = False,
    link_ref: str | None = None,
) -> LinkPlan:
    """``plan_link`` with the plan's overrides already indexed.

    ``normal``: both states are already in normal form (``normalised_state`` returned them
    unchanged), so normalising them again is skipped. ``link_ref``: the view is a link this
    plan creates (``view.link_id`` is that ref): its actions and conflicts name it by
    ``link_ref`` and have no ``link_id`` (see ``Action``).
    """
    if not normal:
        view = normalised_view(view, policy)
    link_pins = pins.for_link(view.link_id)
    out = LinkPlanBuilder(view.link_id)
    if view.excluded or link_pins.exclusion is not None:
        return out.build()
    if Absence.UNKNOWN in (view.a, view.b):
        return out.build()  # never act on a maybe
    open_refs = index_open(view.open_conflicts)
    if isinstance(view.a, Absence) or isinstance(view.b, Absence):
        plan_absence(view, policy, link_pins, open_refs, out)
        return out.build()
    contact_ref = open_refs.pop(("contact", CONTACT_SCOPE), None)
    if contact_ref is not None:
        out.close(contact_ref)  # both contacts exist: the deletion conflict no longer holds
    ctx = LinkContext(
        view=view,
        policy=policy,
        pins=link_pins,
        now=now,
        a=view.a,
        b=view.b,
        base=view.base or _NO_BASE,
        initial=view.base is None,
        open=open_refs,
        out=out,
        link_ref=link_ref,
    )
    if ctx.initial:
        _initial_base(ctx)
        if _sides_agree(ctx):
            return out.build()  # the usual new link: its initial base is its whole plan
    plan_fields(ctx)
    plan_tags(ctx)
    plan_notes(ctx)
    return out.build()


def normalised_state(state: ContactState, policy: PairPolicy) -> ContactState:
    """The state with its core fields in normal form (a no-op for a snapshot that already
    normalised them): the diff must never see a reformatted phone as an edit."""
    values = normalised_fields(state.fields, default_region=policy.default_phone_region)
    return state if values == dict(state.fields) else replace(state, fields=values)


def normalised_view(view: LinkView, policy: PairPolicy) -> LinkView:
    a = view.a if isinstance(view.a, Absence) else normalised_state(view.a, policy)
    b = view.b if isinstance(view.b, Absence) else normalised_state(view.b, policy)
    return replace(view, a=a, b=b) if (a, b) != (view.a, view.b) else view


def _initial_base(ctx: LinkContext) -> None:
    """Record the new link's starting base (one ADOPT_BASE, before any write): the fields
    both sides agree on, the tag base of the initial-tags policy, and the notes both sides
    have (paired by body hash)."""
    fields: dict[CoreField, str | None] = {
        name: ctx.a.fields.get(name)
        for name in CORE_FIELDS
        if ctx.a.fields.get(name) == ctx.b.fields.get(name)
    }
    tags = initial_tag_base(ctx)
    notes = initial_note_links(ctx)
    ctx.base = LinkBase(fields=fields, tags=tags, notes=notes)
    compared = tags_compared(tags, ctx.tags("a"), ctx.tags("b"))
    payload: dict[str, object] = {"initial": True, "fields": dict(fields), "tags": dict(tags)}
    if notes:
        compared["notes"] = value_hash("\n".join(sorted(nl.hash for nl in notes)))
        payload["notes"] = [
            {"a_note_id": nl.a_note_id, "b_note_id": nl.b_note_id, "body": nl.body} for nl in notes
        ]
    ctx.adopt(
        Why(Rule.INITIAL_BASE, policy_label("tags_initial", ctx.policy.tags_initial)).reason(
            compared, "new link: record what both sides already agree on"
        ),
        payload,
    )


def _sides_agree(ctx: LinkContext) -> bool:
    """Whether a new link's sides already agree on everything, so that the merge rules have
    nothing to plan after its initial base: every field equal, the same tag keys, every note
    paired with one of the same body (or notes not read on a side), no open conflict.
    (tests/sync/test_initial.py checks the rules indeed plan nothing then.)"""
    a, b = ctx.a, ctx.b
    if ctx.open or len(ctx.base.fields) != len(CORE_FIELDS):
        return False
    if ctx.tags("a").keys() != ctx.tags("b").keys():
        return False
    if a.notes is None or b.notes is None:
        return True
    return len(a.notes) == len(b.notes) == len(ctx.base.notes)
