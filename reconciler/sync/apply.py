"""Apply: carry out a plan through the journal.

Each ``LinkPlan`` is a job whose actions run in order (a created contact before its notes). The
jobs advance together in waves: the next write of up to ``WavePace.size`` jobs is journaled
(intents committed), the calls are made, and their results are committed with the next wave's
intents (see ``journal``). A wave is sized to take about ``WAVE_SECONDS`` of calls: a slow,
rate-limited side gets small waves (its results are committed soon, and a crash leaves few
pending intents to look up), a fast one large waves (fewer commits, each the price of rewriting
the index pages it dirtied). Actions that write nothing (LINK_CONTACTS, ADOPT_BASE,
UNLINK_CONTACTS) are committed with the next commit.

Outcome of a call, by the error tree:
- done: result, new base, echo into the snapshot, audit; the job goes on;
- ``DuplicateContactError`` on a create: linked to the existing contact instead (unless that one
  is linked already: then parked); the link is merged by the next run;
- ``NotFoundError`` on a delete: done (it is gone either way); on anything else the job stops and
  the link is left for the next run (its snapshot is stale);
- ``PermanentItemError``: parked with its error, the rest of the job skipped, the run goes on;
- ``UncertainWriteError`` on a create: the intent stays pending, so the next run looks for the
  created item before trying again (no duplicates); the job stops;
- ``RetriableError`` (whatever the side's own retries could not cure): the job stops, its link
  is left for the next run (no base advance, marked to be looked at first); after
  ``BREAKER`` of them in a row a side gets no more writes in this run (back off);
- ``AuthError`` / ``FatalRunError``: the run stops; what was done stays recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from reconciler.errors import (
    AuthError,
    DuplicateContactError,
    FatalRunError,
    NotFoundError,
    PermanentItemError,
    RetriableError,
    SideError,
    UncertainWriteError,
)
from reconciler.sides.base import CORE_FIELDS, ContactDraft, CoreField, SideName
from reconciler.store import repo_journal, repo_links
from reconciler.store.repo_journal import JournalEntry
from reconciler.store.repo_sync import JournalOutcome, SideContact
from reconciler.store.schema import JournalStatus
from reconciler.sync.journal import Batch, flush
from reconciler.sync.ledger import Effects, Ledger
from reconciler.sync.model import WRITE_KINDS, Action, ActionKind, ContactState, LinkPlan
from reconciler.sync.runtime import RunContext
from reconciler.sync.snapshot import contact_state

# Writes per wave (one commit of results and intents each): the first wave's, and the bounds
# of the later ones (``WavePace``). At 100,000 contacts a commit of 200 scattered writes cost
# ~25 ms (WAL pages and the checkpoint), a third of applying them against memory sides.
WAVE = 200
WAVE_MIN = 50
WAVE_MAX = 1000
WAVE_SECONDS = 2.0  # the calls of one wave, aimed at
STAGE_LIMIT = 5000  # actions staged before a commit is forced (bounds a transaction)
BREAKER = 10  # consecutive retriable failures after which a side gets no more writes
YIELD_EVERY = 50  # jobs staged between two turns of the commit running behind
_CREATES = frozenset({ActionKind.CREATE_CONTACT, ActionKind.CREATE_NOTE})
_DELETES = frozenset({ActionKind.DELETE_CONTACT, ActionKind.DELETE_NOTE})

JobState = Literal["waiting", "done", "parked", "failed"]
CallStatus = Literal["done", "duplicate", "parked", "retry", "uncertain", "stale", "fatal"]


@dataclass(slots=True)
class LinkJob:
    plan: LinkPlan
    settleable: bool = True
    index: int = 0
    state: JobState = "waiting"
    started: bool = False
    # link_ref -> link id, and -> contact created: made on first use (a run holds one job per
    # link it plans, most of which never need them).
    refs: dict[str, str] | None = None
    created: dict[str, SideContact] | None = None
    links: list[str] = field(default_factory=list)  # every link the job touched, once each

    def __post_init__(self) -> None:
        if self.plan.link_id is not None:
            self.links.append(self.plan.link_id)

    @property
    def sources(self) -> set[SideContact]:
        """The unlinked contacts the job concerns (worked out from the plan when asked, once
        or twice per job, rather than held for every job of the run)."""
        out: set[SideContact] = set()
        for action in self.plan.actions:
            if action.kind is ActionKind.LINK_CONTACTS:
                out.add(("a", str(action.payload["a_id"])))
                out.add(("b", str(action.payload["b_id"])))
            elif (
                action.source_side is not None
                and action.source_id is not None
                and action.link_id is None
            ):
                out.add((action.source_side, action.source_id))
        return out

    @property
    def next(self) -> Action | None:
        actions = self.plan.actions
        return actions[self.index] if self.index < len(actions) else None

    def ref_link(self, ref: str | None) -> str | None:
        return self.refs.get(ref) if ref is not None and self.refs is not None else None

    def touch(self, link_id: str) -> None:
        if link_id not in self.links:
            self.links.append(link_id)


@dataclass(slots=True)
class SideHealth:
    """Retriable failures in a row per side, and the sides paused by them (``BREAKER``): kept
    for the whole run, across its parts."""

    failures: dict[SideName, int] = field(default_factory=lambda: {"a": 0, "b": 0})
    paused: set[SideName] = field(default_factory=set)

    def record(self, side: SideName, failed: bool) -> bool:
        """Count a call's outcome; True when this failure pauses the side: after
        ``BREAKER`` retriable failures in a row it gets no more writes in this run (its own
        retries have already waited)."""
        if not failed:
            self.failures[side] = 0
            return False
        self.failures[side] += 1
        if self.failures[side] >= BREAKER and side not in self.paused:
            self.paused.add(side)
            return True
        return False


@dataclass(slots=True)
class WavePace:
    """How many writes the next wave takes: as many as the sides answered in ``WAVE_SECONDS``
    last time, within ``WAVE_MIN`` and ``WAVE_MAX``."""

    size: int

    def record(self, calls: int, seconds: float) -> None:
        if calls < self.size:
            return  # the plan ran out of writes: the rate says nothing of a full wave
        fitted = calls * WAVE_SECONDS / max(seconds, 1e-6)
        self.size = int(min(WAVE_MAX, max(WAVE_MIN, fitted)))


@dataclass(frozen=True, slots=True)
class CallOutcome:
    status: CallStatus
    created_id: str | None = None
    existing: ContactState | None = None
    error: str | None = None


def _link_ref(action: Action) -> str | None:
    ref = action.payload.get("link_ref")
    return str(ref) if ref is not None else None


def item_of(action: Action) -> tuple[SideName, str, str]:
    """The (side, kind, id) an action's outcome is parked under."""
    assert action.side is not None
    payload = action.payload
    if action.kind is ActionKind.CREATE_CONTACT:
        return action.side, "contact_create", f"{action.source_side}:{action.source_id}"
    if action.kind is ActionKind.CREATE_NOTE:
        return action.side, "note_create", str(payload.get("source_note_id"))
    if action.kind in (ActionKind.UPDATE_NOTE, ActionKind.DELETE_NOTE):
        return action.side, "note", str(payload.get("note_id"))
    return action.side, "contact", str(action.contact_id)


class Executor:
    def __init__(
        self,
        ctx: RunContext,
        ledger: Ledger,
        *,
        parked: set[tuple[SideName, str, str]] | None = None,
        health: SideHealth | None = None,
    ) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.batch = Batch()
        self.effects = Effects(ctx, ledger, self.batch)
        self.parked_before = parked or set()
        self.health = health or SideHealth()
        self.pace = WavePace(WAVE)
        self.stopped = False
        # A commit running while the next batch is staged, and the actions it records.
        self.behind: tuple[asyncio.Future[list[JournalEntry]], list[Action]] | None = None

    async def run(self, jobs: Iterable[LinkJob]) -> None:
        queue = deque(jobs)
        try:
            while True:
                wave = await self._next_wave(queue)
                if not wave and queue and not self.stopped:
                    # A batch of actions that write nothing is full: it is committed while
                    # the next actions are staged (no call waits for it).
                    await self._commit_behind()
                    continue
                self.batch.intents = [action for _, action in wave]
                entries = await self._commit()
                if len(entries) != len(wave):
                    raise RuntimeError("the journal recorded a different number of intents")
                for _, action in wave:
                    await self.ctx.step("intent_committed", action)
                if not wave:
                    return
                guard = self.ctx.sides.write_guard
                if guard is not None:
                    guard()
                began = time.monotonic()
                outcomes = await self._calls([action for _, action in wave])
                self.pace.record(len(wave), time.monotonic() - began)
                for (job, action), entry, outcome in zip(wave, entries, outcomes, strict=True):
                    self._stage(job, action, entry, outcome)
                if self.stopped:
                    await self._commit()
                    return
        finally:
            if self.behind is not None:
                # The run is failing (or crashing): that commit ends as a dead process's
                # would, done or not; the next run finishes the work either way.
                self.behind[0].cancel()
                await asyncio.wait([self.behind[0]])

    async def _commit(self) -> list[JournalEntry]:
        """Commit the batch (after the one behind); then the hooks of the outcomes it
        recorded."""
        await self._catch_up()
        batch = self._swap()
        entries = await flush(self.ctx, batch)
        for action in batch.finished:
            await self.ctx.step("result_committed", action)
        return entries

    async def _commit_behind(self) -> None:
        """Start committing the batch (after the one behind) and go on staging: its hooks
        follow when the next commit waits for it. Only for a batch without intents; the
        store keeps commits in order (one at a time)."""
        await self._catch_up()
        batch = self._swap()
        self.behind = (asyncio.ensure_future(flush(self.ctx, batch)), batch.finished)

    async def _catch_up(self) -> None:
        if self.behind is None:
            return
        task, finished = self.behind
        await task
        self.behind = None
        for action in finished:
            await self.ctx.step("result_committed", action)

    def _swap(self) -> Batch:
        batch = self.batch
        self.batch = Batch()
        self.effects.batch = self.batch
        return batch

    # -- waves -------------------------------------------------------------------------------

    async def _next_wave(self, queue: deque[LinkJob]) -> list[tuple[LinkJob, Action]]:
        """Advance jobs through actions that write nothing; collect the next write of each,
        up to ``pace.size`` of them (jobs keep their order)."""
        wave: list[tuple[LinkJob, Action]] = []
        later: list[LinkJob] = []
        applied = self.effects.applied
        jobs = 0
        size = self.pace.size
        while queue and len(wave) < size and self.batch.size < STAGE_LIMIT and not self.stopped:
            job = queue.popleft()
            if job.state != "waiting":
                continue  # stopped by its last outcome (parked, failed, ...)
            jobs += 1
            if self.behind is not None and jobs % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the commit behind sends its next statement
            job.started = True
            actions = job.plan.actions
            while job.index < len(actions) and actions[job.index].kind not in WRITE_KINDS:
                action = self._resolve(job, actions[job.index])
                self._remember(job, action, applied(action), None)
                job.index += 1
            if job.index == len(actions):
                self._end(job, "done")
                continue
            action = self._resolve(job, actions[job.index])
            assert action.side is not None
            if action.side in self.health.paused:
                self._leave(job, f"side {action.side.upper()} paused after repeated failures")
                continue
            wave.append((job, action))
            later.append(job)
        queue.extendleft(reversed(later))
        return wave

    def _resolve(self, job: LinkJob, action: Action) -> Action:
        """The action with its real link and contact ids (links and contacts made earlier in
        the same plan are named by ``link_ref`` until then)."""
        ref = _link_ref(action)
        link_id = action.link_id or job.ref_link(ref)
        contact_id = action.contact_id
        if (
            contact_id is None
            and action.side is not None
            and action.kind is not ActionKind.CREATE_CONTACT
        ):
            created = job.created.get(ref) if ref is not None and job.created else None
            if created is not None and created[0] == action.side:
                contact_id = created[1]
            elif link_id is not None:
                contact_id = self.ledger.links[link_id].contact_id(action.side)
        if link_id == action.link_id and contact_id == action.contact_id:
            return action
        # Built directly: ``dataclasses.replace`` costs several times more, once per action
        # of every new link.
        return Action(
            kind=action.kind,
            reason=action.reason,
            side=action.side,
            link_id=link_id,
            contact_id=contact_id,
            source_side=action.source_side,
            source_id=action.source_id,
            payload=action.payload,
        )

    def _remember(
        self, job: LinkJob, action: Action, link_id: str | None, created_id: str | None
    ) -> None:
        if link_id is not None:
            job.touch(link_id)
        ref = _link_ref(action)
        if ref is None:
            return
        kind = action.kind
        if kind in (ActionKind.LINK_CONTACTS, ActionKind.CREATE_CONTACT) and link_id:
            if job.refs is None:
                job.refs = {}
            job.refs[ref] = link_id
        if kind is ActionKind.CREATE_CONTACT and created_id and action.side:
            if job.created is None:
                job.created = {}
            job.created[ref] = (action.side, created_id)

    def _end(self, job: LinkJob, state: JobState) -> None:
        """The job takes no more actions in this run: nor do its links (one job per link),
        so their bases, committed or staged in the batch, are let go of here rather than
        held for every link of the run."""
        job.state = state
        links = self.ledger.links
        for link_id in job.links:
            entry = links.get(link_id)
            if entry is not None:
                entry.base = None

    # -- calls -------------------------------------------------------------------------------

    async def _calls(self, actions: list[Action]) -> list[CallOutcome]:
        limits = {
            name: asyncio.Semaphore(max(1, self.ctx.side(name).capabilities.max_concurrency))
            for name in ("a", "b")
        }

        async def one(action: Action) -> CallOutcome:
            assert action.side is not None
            async with limits[action.side]:
                if action.side in self.health.paused:
                    return CallOutcome("retry", error="not sent: the side is paused")
                outcome = await self._call(action)
            if self.health.record(action.side, outcome.status in ("retry", "uncertain")):
                self.ctx.tally.error(
                    f"side {action.side.upper()}: {BREAKER} retriable failures in a row; "
                    "no more writes to it in this run"
                )
            await self.ctx.step("write_returned", action)
            return outcome

        tasks = [asyncio.ensure_future(one(action)) for action in actions]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            # A crash (or a cancelled run) stops the calls still in flight, as a dead process
            # would; nothing is written to the store here.
            for task in tasks:
                task.cancel()

    async def _call(self, action: Action) -> CallOutcome:
        assert action.side is not None
        side = self.ctx.side(action.side)
        kind = action.kind
        payload = action.payload
        contact_id = str(action.contact_id)
        try:
            if kind is ActionKind.CREATE_CONTACT:
                fields = payload.get("fields")
                values = fields if isinstance(fields, dict) else {}
                draft = ContactDraft(
                    **{name: _opt(values.get(name)) for name in CORE_FIELDS},
                    tags=frozenset(str(t) for t in _list(payload.get("tags"))),
                )
                return CallOutcome("done", created_id=(await side.create_contact(draft)).id)
            if kind is ActionKind.UPDATE_FIELDS:
                changes = payload.get("changes")
                given = changes if isinstance(changes, dict) else {}
                update: dict[CoreField, str | None] = {
                    name: _opt(given[name]) for name in CORE_FIELDS if name in given
                }
                await side.update_contact(contact_id, update)
            elif kind is ActionKind.ADD_TAGS:
                await side.add_tags(contact_id, frozenset(str(t) for t in _list(payload["tags"])))
            elif kind is ActionKind.REMOVE_TAGS:
                await side.remove_tags(
                    contact_id, frozenset(str(t) for t in _list(payload["tags"]))
                )
            elif kind is ActionKind.ARCHIVE_CONTACT:
                await side.add_tags(contact_id, frozenset({str(payload["tag"])}))
            elif kind is ActionKind.DELETE_CONTACT:
                await side.delete_contact(contact_id)
            elif kind is ActionKind.CREATE_NOTE:
                note = await side.create_note(contact_id, str(payload["body"]))
                return CallOutcome("done", created_id=note.id)
            elif kind is ActionKind.UPDATE_NOTE:
                await side.update_note(contact_id, str(payload["note_id"]), str(payload["body"]))
            elif kind is ActionKind.DELETE_NOTE:
                await side.delete_note(contact_id, str(payload["note_id"]))
            else:
                raise ValueError(f"{kind.value} is not a write")
        except DuplicateContactError as exc:
            if kind is not ActionKind.CREATE_CONTACT:
                return CallOutcome("parked", error=_describe(exc))
            return await self._existing(action, exc)
        except NotFoundError as exc:
            if kind in _DELETES:
                return CallOutcome("done")  # gone either way
            return CallOutcome("stale", error=_describe(exc))
        except UncertainWriteError as exc:
            status: CallStatus = "uncertain" if kind in _CREATES else "retry"
            return CallOutcome(status, error=_describe(exc))
        except RetriableError as exc:
            return CallOutcome("retry", error=_describe(exc))
        except PermanentItemError as exc:
            return CallOutcome("parked", error=_describe(exc))
        except (AuthError, FatalRunError) as exc:
            return CallOutcome("fatal", error=_describe(exc))
        return CallOutcome("done")

    async def _existing(self, action: Action, exc: DuplicateContactError) -> CallOutcome:
        """A duplicate refused by the side: the contact it names, unless already linked."""
        assert action.side is not None
        try:
            existing = await self.ctx.side(action.side).get_contact(exc.existing_id)
        except (AuthError, FatalRunError) as err:
            return CallOutcome("fatal", error=_describe(err))
        except SideError as err:
            return CallOutcome("retry", error=_describe(err))
        async with self.ctx.store.session() as s:
            linked = await repo_links.links_by_contact(
                s, self.ctx.pair_id, action.side, [existing.id]
            )
        if existing.id in linked or any(
            entry.active and entry.contact_id(action.side) == existing.id
            for entry in self.ledger.links.values()
        ):
            return CallOutcome(
                "parked", error=f"{_describe(exc)}: the existing contact is linked already"
            )
        return CallOutcome("duplicate", existing=contact_state(existing, self.ctx.policy))

    # -- outcomes ----------------------------------------------------------------------------

    def _stage(
        self, job: LinkJob, action: Action, entry: JournalEntry, outcome: CallOutcome
    ) -> None:
        batch = self.batch
        assert action.side is not None
        side = action.side
        if outcome.status == "done":
            result: dict[str, object] = (
                {"created_id": outcome.created_id} if outcome.created_id else {}
            )
            link_id = self.effects.applied(action, created_id=outcome.created_id)
            self._remember(job, action, link_id, outcome.created_id)
            batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.DONE, result=result))
            item = item_of(action)
            if item in self.parked_before:
                batch.unparked.add(item)
            job.index += 1
            if job.next is None:
                self._end(job, "done")
            return
        if outcome.status == "duplicate":
            assert outcome.existing is not None
            link_id = self.effects.linked_existing(action, outcome.existing)
            self._remember(job, action, link_id, None)
            result = {
                "existing_id": outcome.existing.contact_id,
                "linked_existing": True,
            }
            batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.DONE, result=result))
            self._end(job, "failed")  # the rest of its plan is the next run's (a merge)
            return
        error = outcome.error or outcome.status
        if outcome.status == "parked":
            batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.PARKED, error=error))
            batch.parked[item_of(action)] = error
            self.ctx.tally.parked += 1
            self.ctx.tally.error(f"{action.kind.value} on side {side.upper()} parked: {error}")
            self.effects.audit("action.parked", action, action.link_id, {"error": error})
            batch.finished.append(action)
            self._end(job, "parked")
            return
        if outcome.status != "uncertain":
            # "uncertain" stays pending: the next run looks for the created item first.
            batch.outcomes.append(JournalOutcome(entry.id, JournalStatus.FAILED, error=error))
        batch.finished.append(action)
        if outcome.status == "fatal":
            self.ctx.tally.fatal = error
            self.stopped = True
        self._leave(job, f"{action.kind.value} on side {side.upper()}: {error}")

    def _leave(self, job: LinkJob, why: str) -> None:
        """Stop a job; its link is looked at (notes first) by the next run."""
        self._end(job, "failed")
        self.ctx.tally.error(f"left for the next run: {why}")
        for link_id in job.links:
            entry = self.ledger.links.get(link_id)
            if entry is not None:
                self.batch.dirty.update(
                    key for key in entry.contacts() if key not in self.batch.forgotten
                )
        self.batch.dirty.update(job.sources)


async def load_parked(ctx: RunContext) -> set[tuple[SideName, str, str]]:
    """The pair's parked write targets (a success unparks them)."""
    out: set[tuple[SideName, str, str]] = set()
    async with ctx.store.session() as s:
        for side in ("a", "b"):
            name: SideName = "a" if side == "a" else "b"
            for kind in ("contact", "contact_create", "note", "note_create"):
                ids = await repo_journal.parked_ids(s, ctx.pair_id, name, kind)
                out.update((name, kind, item_id) for item_id in ids)
    return out


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []
