"""The delete guard (DESIGN invariant 5): too many deletions in one run stop it for approval.

A partial snapshot that slipped through, a side that suddenly lists nothing, or a policy
mistake all look like mass deletion. Before applying, the run compares the plan's deletions
with what it looked at; past the pair's share (and at least ``delete_guard_min`` of them, so a
tiny pair is not stopped by one deletion) the plan waits for a person.

Counted as contact deletions: DELETE_CONTACT and ARCHIVE_CONTACT (both act on a believed
deletion of the peer; archiving unlinks). Note deletions: DELETE_NOTE.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.sync.model import ActionKind, PairPolicy, Plan

_CONTACT_DELETES = frozenset({ActionKind.DELETE_CONTACT, ActionKind.ARCHIVE_CONTACT})


@dataclass(frozen=True, slots=True)
class DeleteGuardVerdict:
    tripped: bool
    contact_deletes: int
    note_deletes: int
    linked_count: int
    note_count: int
    contact_share: float  # contact deletions / linked contacts (1.0 when there are none)
    note_share: float  # note deletions / notes looked at (1.0 when there are none)
    message: str


def delete_guard(
    plan: Plan, linked_count: int, note_count: int, policy: PairPolicy
) -> DeleteGuardVerdict:
    """Whether ``plan`` deletes too much to run without approval.

    ``linked_count``: linked contacts of the pair; ``note_count``: notes read in this run.
    """
    contact_deletes = sum(1 for a in plan.actions if a.kind in _CONTACT_DELETES)
    note_deletes = sum(1 for a in plan.actions if a.kind is ActionKind.DELETE_NOTE)
    contact_share = _share(contact_deletes, linked_count)
    note_share = _share(note_deletes, note_count)
    reasons = [
        f"{count} {what} deletions ({share:.0%} of {total}) exceed {policy.delete_guard_share:.0%}"
        for what, count, share, total in (
            ("contact", contact_deletes, contact_share, linked_count),
            ("note", note_deletes, note_share, note_count),
        )
        if count >= policy.delete_guard_min and share > policy.delete_guard_share
    ]
    return DeleteGuardVerdict(
        tripped=bool(reasons),
        contact_deletes=contact_deletes,
        note_deletes=note_deletes,
        linked_count=linked_count,
        note_count=note_count,
        contact_share=contact_share,
        note_share=note_share,
        message="; ".join(reasons) if reasons else "within the delete guard",
    )


def _share(count: int, total: int) -> float:
    if total <= 0:
        return 1.0 if count else 0.0
    return count / total
