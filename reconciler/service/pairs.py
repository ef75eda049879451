"""Pair operations: change a pair's policy and settings (admins), and read its budget.

A policy change is a patch: only the settings named change, each checked by the store's
codec (the one place that knows what a valid policy is), and the whole change is audited
with the values before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.service.errors import InvalidInputError, UnknownObjectError
from reconciler.sides.base import SideName
from reconciler.store import repo_audit, repo_pairs
from reconciler.store.codec import policy_from_json, policy_to_json
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.tables import PairRow, RunRow
from reconciler.store.types import utcnow

Clock = Callable[[], datetime]

# HighLevel's documented daily limit per location; other kinds publish none.
DAILY_LIMITS = {AccountKind.HIGHLEVEL.value: 200_000}
# A run may record what the side reported as left of its daily budget under this key of
# ``run.requests[side]``; without it the budget left is the limit minus what runs spent.
BUDGET_REMAINING_KEY = "budget_remaining_daily"
MAX_SCHEDULE_INTERVAL_S = 7 * 24 * 3600


async def update_pair_settings(
    store: Store,
    pair_id: str,
    *,
    actor: str,
    policy: Mapping[str, Any] | None = None,
    enabled: bool | None = None,
    schedule_interval_s: int | None = None,
    clock: Clock = utcnow,
) -> PairRow:
    if schedule_interval_s is not None and not 60 <= schedule_interval_s <= MAX_SCHEDULE_INTERVAL_S:
        raise InvalidInputError(
            f"the schedule interval is 60 to {MAX_SCHEDULE_INTERVAL_S} seconds",
            field="scheduleIntervalSeconds",
        )
    now = clock()
    async with store.transaction() as s:
        pair = await repo_pairs.get_pair(s, pair_id)
        if pair is None:
            raise UnknownObjectError("no such pair", field="pairId")
        before = policy_to_json(repo_pairs.pair_policy(pair))
        new_policy = None
        if policy:
            try:
                new_policy = policy_from_json({**before, **policy})
            except ValueError as exc:
                raise InvalidInputError(str(exc), field="policy") from exc
            if not 0.0 <= new_policy.delete_guard_share <= 1.0:
                raise InvalidInputError("deleteGuardShare is within 0..1", field="policy")
            if new_policy.delete_guard_min < 0:
                raise InvalidInputError("deleteGuardMin is not negative", field="policy")
        updated = await repo_pairs.update_pair(
            s,
            pair_id,
            now=now,
            policy=new_policy,
            enabled=enabled,
            schedule_interval_s=schedule_interval_s,
        )
        assert updated is not None  # the pair was read in this transaction
        after = policy_to_json(repo_pairs.pair_policy(updated))
        changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
        detail: dict[str, Any] = {"policy": changed}
        if enabled is not None:
            detail["enabled"] = enabled
        if schedule_interval_s is not None:
            detail["schedule_interval_s"] = schedule_interval_s
        await repo_audit.append(
            s,
            [
                repo_audit.AuditEntry(
                    actor=actor,
                    kind="pair.updated",
                    at=now,
                    pair_id=pair_id,
                    subject=pair_id,
                    detail=detail,
                )
            ],
        )
    return updated


@dataclass(frozen=True, slots=True)
class SideBudget:
    side: SideName
    requests_last_run: int | None
    daily_limit: int | None
    remaining_daily: int | None


def requests_spent(run: RunRow, side: SideName) -> int:
    """Requests a run spent on one side (its per-endpoint counts added up)."""
    per = run.requests.get(side) if isinstance(run.requests, dict) else None
    if isinstance(per, int):
        return per
    if not isinstance(per, dict):
        return 0
    return sum(v for k, v in per.items() if k != BUDGET_REMAINING_KEY and isinstance(v, int))


def side_budget(
    side: SideName, kind: str, last_run: RunRow | None, spent_today: int | None
) -> SideBudget:
    """What is left of a side's daily budget, from the runs' recorded usage."""
    limit = DAILY_LIMITS.get(kind)
    last = requests_spent(last_run, side) if last_run is not None else None
    remaining: int | None = None
    per = last_run.requests.get(side) if last_run is not None else None
    if isinstance(per, dict) and isinstance(per.get(BUDGET_REMAINING_KEY), int):
        remaining = per[BUDGET_REMAINING_KEY]
    elif limit is not None and spent_today is not None:
        remaining = max(0, limit - spent_today)
    return SideBudget(
        side=side, requests_last_run=last, daily_limit=limit, remaining_daily=remaining
    )
