"""A pair's whole plan: ``build_plan`` (and the delete guard, re-exported here).

Order: resolutions of ambiguous matches; contact matching (conflicts for ambiguous groups);
new links, each as LINK_CONTACTS followed by its initial merge (the plan for a link without a
base, tagged with the link's ``link_ref``); contacts created on the other side per the pair's
create direction, each followed by its notes; then every existing link.

Unlinked contacts that are retired (their link ended by a deletion of their peer) or carry the
pair's archive tag are neither matched nor created: that would resurrect a deleted contact.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from reconciler.sides.base import SideName
from reconciler.sync.diff import normalised_state, plan_view
from reconciler.sync.groups import Why
from reconciler.sync.guard import DeleteGuardVerdict, delete_guard
from reconciler.sync.match import AmbiguousMatch, identities, match_contacts
from reconciler.sync.merge_contact import create_contact_actions
from reconciler.sync.model import (
    Action,
    ActionKind,
    ConflictKind,
    ConflictSpec,
    ContactState,
    CreateDirection,
    LinkPlan,
    LinkView,
    OpenConflictRef,
    Override,
    PairPolicy,
    Plan,
    RejectedResolution,
    ResolutionChoice,
    Rule,
    UnlinkedContact,
)
from reconciler.sync.normalise import tag_key, tag_keyer, value_hash
from reconciler.sync.policy import PinIndex, other_side, policy_label

__all__ = ["DeleteGuardVerdict", "build_plan", "delete_guard"]


def build_plan(
    views: Iterable[LinkView],
    unlinked: Sequence[UnlinkedContact],
    policy: PairPolicy,
    overrides: Sequence[Override],
    now: datetime,
    *,
    open_match_conflicts: Sequence[OpenConflictRef] = (),
) -> Plan:
    """Plan one run of a pair.

    ``open_match_conflicts``: the pair's open CONTACT_MATCH conflicts (they belong to no link).
    """
    with _collector_paused():
        return _build_plan(views, unlinked, policy, overrides, now, open_match_conflicts)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while planning.

    Planning makes a few small objects per item (hundreds of thousands in a large run) and no
    reference cycles: reference counting frees every temporary, so the collector has nothing
    to find. But it is triggered by allocation counts and each pass walks the objects of its
    generation, the older ones holding the run's views and sides: measured, those passes were
    a third of planning's time. (tests/sync/test_plan_gc.py checks planning leaves no cyclic
    garbage.)
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _build_plan(
    views: Iterable[LinkView],
    unlinked: Sequence[UnlinkedContact],
    policy: PairPolicy,
    overrides: Sequence[Override],
    now: datetime,
    open_match_conflicts: Sequence[OpenConflictRef],
) -> Plan:
    pins = PinIndex(overrides, now, policy)
    archive_key = tag_key(policy.archive_tag, case_insensitive=policy.tags_case_insensitive)
    pool: list[UnlinkedContact] = []
    # Contacts whose state was already in normal form: normalising it again changes nothing.
    normal: set[int] = set()
    for u in unlinked:
        if u.retired or _archived(u.state, archive_key, policy):
            continue
        state = normalised_state(u.state, policy)
        if state is u.state:
            normal.add(id(state))
            pool.append(u)
        else:
            pool.append(replace(u, state=state))
    refs = {ref.scope: ref for ref in open_match_conflicts}
    links, new_links, held = _apply_match_resolutions(pool, refs, policy, pins, now, normal)
    pool = [u for u in pool if (u.side, u.state.contact_id) not in held]

    def identities_of(state: ContactState) -> tuple[str | None, str | None]:
        if id(state) in normal:
            # Its fields are their own normal form: the email and phone are its identities.
            return state.fields.get("email"), state.fields.get("phone")
        return identities(state, policy)

    matching = match_contacts(pool, policy, identities_of=identities_of)
    for group in matching.ambiguous:
        spec = _ambiguity(group)
        existing = refs.pop(group.identity, None)
        if existing is None or existing.fingerprint != spec.fingerprint():
            links.append(LinkPlan(None, conflicts=(spec,)))
    for scope in sorted(refs):
        if refs[scope].resolution is None:
            links.append(LinkPlan(None, closed_conflicts=(refs[scope].conflict_id,)))
    for pair in matching.pairs:
        why = Why(Rule.CONTACT_MATCH)
        new_links.append(
            _new_link(pair.a, pair.b, pair.via, why, pair.identity, policy, pins, now, normal)
        )

    creations = [
        _creation(u, policy) for u in matching.unmatched if _may_create(u.side, policy.create)
    ]
    existing_links = [
        plan_view(view, policy, pins, now) for view in sorted(views, key=lambda v: v.link_id)
    ]
    return Plan(links=(*links, *new_links, *creations, *existing_links))


def _apply_match_resolutions(
    pool: Sequence[UnlinkedContact],
    refs: dict[str, OpenConflictRef],
    policy: PairPolicy,
    pins: PinIndex,
    now: datetime,
    normal: set[int],
) -> tuple[list[LinkPlan], list[LinkPlan], set[tuple[SideName, str]]]:
    """Carry out resolved CONTACT_MATCH conflicts (removing them from ``refs``).

    Returns the closings/refusals, the new links, and the contacts they hold: the linked ones,
    and the candidates of a refused resolution (their conflict stays open, so they are neither
    matched nor created in this plan).
    """
    links: list[LinkPlan] = []
    new_links: list[LinkPlan] = []
    held: set[tuple[SideName, str]] = set()
    for scope in sorted(refs):
        ref = refs[scope]
        if ref.resolution is None:
            continue
        on_a, on_b = _candidates(pool, scope, policy)
        outcome = _choose(ref, on_a, on_b)
        if isinstance(outcome, str):
            refused = RejectedResolution(ref.conflict_id, outcome)
            links.append(LinkPlan(None, rejected_resolutions=(refused,)))
            held.update(("a", c.contact_id) for c in on_a)
            held.update(("b", c.contact_id) for c in on_b)
            continue
        links.append(LinkPlan(None, closed_conflicts=(ref.conflict_id,)))
        del refs[scope]
        if outcome is None:
            continue  # the candidates are gone: nothing left to decide
        a_state, b_state = outcome
        why = Why(Rule.RESOLUTION, conflict_id=ref.conflict_id)
        new_links.append(
            _new_link(a_state, b_state, "resolution", why, scope, policy, pins, now, normal)
        )
        held.update({("a", a_state.contact_id), ("b", b_state.contact_id)})
    return links, new_links, held


def _new_link(
    a: ContactState,
    b: ContactState,
    via: str,
    why: Why,
    identity: str,
    policy: PairPolicy,
    pins: PinIndex,
    now: datetime,
    normal: set[int],
) -> LinkPlan:
    """LINK_CONTACTS, then the new link's initial merge, all tagged with its ``link_ref``."""
    link_ref = f"link:{a.contact_id}:{b.contact_id}"
    link = Action(
        kind=ActionKind.LINK_CONTACTS,
        reason=why.reason({"identity": value_hash(identity)}, f"matched by {via}"),
        payload={"a_id": a.contact_id, "b_id": b.contact_id, "link_ref": link_ref, "via": via},
    )
    view = LinkView(
        link_id=link_ref,
        a_contact_id=a.contact_id,
        b_contact_id=b.contact_id,
        a=a,
        b=b,
        base=None,
    )
    initial = plan_view(
        view,
        policy,
        pins,
        now,
        normal=id(a) in normal and id(b) in normal,
        link_ref=link_ref,
    )
    return LinkPlan(None, actions=(link, *initial.actions), conflicts=initial.conflicts)


def _creation(contact: UnlinkedContact, policy: PairPolicy) -> LinkPlan:
    target = other_side(contact.side)
    actions = create_contact_actions(
        contact.state,
        source_side=contact.side,
        target_side=target,
        link_ref=f"create:{contact.side}:{contact.state.contact_id}",
        policy=policy,
        reason_why=Why(Rule.CONTACT_CREATE, policy_label("create", policy.create)),
        detail=f"no match on {target.upper()}",
    )
    return LinkPlan(None, actions=tuple(actions))


def _may_create(source: SideName, direction: CreateDirection) -> bool:
    if direction is CreateDirection.BOTH:
        return True
    if direction is CreateDirection.A_TO_B:
        return source == "a"
    if direction is CreateDirection.B_TO_A:
        return source == "b"
    return False


def _archived(state: ContactState, archive_key: str, policy: PairPolicy) -> bool:
    key = tag_keyer(case_insensitive=policy.tags_case_insensitive)
    return archive_key in map(key, state.tags.values())


def _candidates(
    pool: Sequence[UnlinkedContact], identity: str, policy: PairPolicy
) -> tuple[list[ContactState], list[ContactState]]:
    on: dict[SideName, list[ContactState]] = {"a": [], "b": []}
    for contact in sorted(pool, key=lambda u: u.state.contact_id):
        if identity in identities(contact.state, policy):
            on[contact.side].append(contact.state)
    return on["a"], on["b"]


def _choose(
    ref: OpenConflictRef, on_a: list[ContactState], on_b: list[ContactState]
) -> tuple[ContactState, ContactState] | str | None:
    """The pair a CONTACT_MATCH resolution links; None if the candidates are gone; a message
    when the resolution cannot be carried out.

    - A with ``value`` = an A candidate's id: link it to B's only candidate (B likewise).
    - CUSTOM with ``value`` = {"a_id", "b_id"}: link exactly that pair.
    - BASE is refused: "link none of them" cannot be kept (the next run would ask again).
    """
    assert ref.resolution is not None
    if not on_a or not on_b:
        return None
    by_a = {c.contact_id: c for c in on_a}
    by_b = {c.contact_id: c for c in on_b}
    choice, value = ref.resolution.choice, ref.resolution.value
    if choice is ResolutionChoice.BASE:
        return "an ambiguous match is resolved by choosing a candidate (A, B or CUSTOM)"
    if choice is ResolutionChoice.CUSTOM:
        if not isinstance(value, dict):
            return 'a custom match must be {"a_id": ..., "b_id": ...}'
        a_id, b_id = value.get("a_id"), value.get("b_id")
        if a_id not in by_a or b_id not in by_b:
            return "the chosen contacts are not (or no longer) candidates of this match"
        return by_a[str(a_id)], by_b[str(b_id)]
    mine, theirs = (by_a, by_b) if choice is ResolutionChoice.A else (by_b, by_a)
    side = choice.value
    if value is None and len(mine) == 1:
        value = next(iter(mine))
    if not isinstance(value, str) or value not in mine:
        return f"choose one of side {side}'s candidates by id as the resolution value"
    if len(theirs) != 1:
        return "the other side has several candidates: resolve with CUSTOM {a_id, b_id}"
    other = next(iter(theirs.values()))
    return (mine[value], other) if choice is ResolutionChoice.A else (other, mine[value])


def _ambiguity(group: AmbiguousMatch) -> ConflictSpec:
    return ConflictSpec(
        kind=ConflictKind.CONTACT_MATCH,
        scope=group.identity,
        link_id=None,
        base_value=None,
        a_value=[_candidate(c) for c in group.a],
        b_value=[_candidate(c) for c in group.b],
        reason=Why(Rule.CONTACT_AMBIGUOUS).reason(
            {
                "identity": value_hash(group.identity),
                "a": value_hash(",".join(c.contact_id for c in group.a)),
                "b": value_hash(",".join(c.contact_id for c in group.b)),
            },
            f"{len(group.a)} contact(s) on A and {len(group.b)} on B share one {group.via}",
        ),
    )


def _candidate(state: ContactState) -> dict[str, object]:
    return {
        "contact_id": state.contact_id,
        "fields": dict(state.fields),
        "tags": sorted(state.tags.values()),
    }
