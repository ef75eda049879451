"""``reconciler demo``: the whole system in one process, on one event loop.

1. The HighLevel sandbox (two locations with realistic contacts, notes and tags, plus the
   people of ``demo_data``) on one port; its state is saved under ``data_dir``.
2. The service (API, webhooks, OAuth install, metrics, scheduler) on another port, on a SQLite
   store under ``data_dir``, with the sandbox's webhook keys, its OAuth app, and a pair
   ``demo`` of the two locations (private integration tokens; OAuth install also works).
3. The sandbox sends its webhooks to the service.
4. After the first sync, people edit both sides (``demo_data.edit_both_sides``): the runs that
   follow open every kind of conflict, which the API and the console show.

It prints the URLs, an operator key and an admin key, and a line per run. Ctrl-C stops it
cleanly (the service first, so runs in progress finish or are journalled, then the sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from reconciler.sandbox.app import create_app as create_sandbox_app
from reconciler.sandbox.config import (
    CONTACT_SCOPES,
    AppConfig,
    LocationConfig,
    LocationSettings,
    SandboxConfig,
    default_app,
)
from reconciler.sandbox.server import running_server
from reconciler.sandbox.state import Sandbox
from reconciler.service import events, keys
from reconciler.service.demo_data import DemoEditError, Edit, edit_both_sides, seed_scenario
from reconciler.service.events import RunFinished, Subscription
from reconciler.service.main import Service, build_service, create_service_app
from reconciler.service.observability import configure_logging
from reconciler.service.server import bind, serving
from reconciler.settings import Settings, load_settings
from reconciler.store import repo_conflicts, repo_pairs, repo_runs
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Secret
from reconciler.store.schema import AccountKind, ApiKeyRole, AuthKind, ConflictStatus, table_of
from reconciler.store.tables import PairRow
from reconciler.store.types import utcnow
from reconciler.sync.model import (
    FieldConflictPolicy,
    NoteConflictPolicy,
    NoteDeleteEditPolicy,
    PairPolicy,
    TagsInitialPolicy,
)
from reconciler.sync.snapshot import ScanSettings

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
PAIR_NAME = "demo"
_PAIR = table_of(PairRow)
# Every conflict kind needs a person's decision in the demo (the defaults settle some alone).
DEMO_POLICY = PairPolicy(
    tags_initial=TagsInitialPolicy.MANUAL,
    note_conflict=NoteConflictPolicy.MANUAL,
    field_conflict=FieldConflictPolicy.MANUAL,
    note_delete_vs_edit=NoteDeleteEditPolicy.MANUAL,
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    data_dir: Path = Path("var/demo")
    host: str = "127.0.0.1"
    port: int = 8000
    sandbox_port: int = 8100
    interval_s: int = 20
    contacts: int = 30
    seed: int = 7
    fresh: bool = True
    # Seconds of webhook quiet before a webhook-triggered run.
    debounce_s: float = 1.0
    # False: skip the second act (tests that drive the sides themselves).
    edits: bool = True


@dataclass
class Demo:
    """The running demo (what tests drive)."""

    options: DemoOptions
    sandbox: Sandbox
    sandbox_url: str
    service: Service
    service_url: str
    pair_id: str
    location_a: str
    location_b: str
    operator_key: str
    admin_key: str
    edits: list[Edit] = field(default_factory=list)
    first_run: asyncio.Event = field(default_factory=asyncio.Event)
    edited: asyncio.Event = field(default_factory=asyncio.Event)

    def banner(self) -> str:
        url, opts = self.service_url, self.options
        a, b = self.sandbox.location(self.location_a), self.sandbox.location(self.location_b)
        store = self.service.settings.database_url.split(":///", 1)[-1]
        query = '{"query": "{ conflicts(status: OPEN, first: 20) { edges { node { kind } } } }"}'
        return "\n".join(
            [
                "reconciler demo",
                f"  GraphQL   {url}/graphql  (GraphiQL in a browser; send the key as",
                "            the header  Authorization: Bearer <key>)",
                f"  console   {url}/console",
                f"  metrics   {url}/metrics   health {url}/healthz  {url}/readyz",
                f"  operator key  {self.operator_key}",
                f"  admin key     {self.admin_key}",
                f"  sandbox   {self.sandbox_url}  (HighLevel emulator; admin key "
                f"{self.sandbox.admin_key})",
                f"    side A  {a.id}  {a.name}  ({len(a.contacts)} contacts)",
                f"    side B  {b.id}  {b.name}  ({len(b.contacts)} contacts)",
                f"  pair '{PAIR_NAME}' runs every {opts.interval_s}s; the sandbox's webhooks go to "
                f"{url}/webhooks/highlevel",
                f"  OAuth install (try it): {url}/oauth/start?pair={PAIR_NAME}&side=a",
                f"  store     {store}",
                f"  from a shell: RECONCILER_DATA_DIR={opts.data_dir} reconciler conflicts list",
                f"  curl -s {url}/graphql -H 'Authorization: Bearer {self.operator_key}' "
                f"-H 'content-type: application/json' -d '{query}'",
                "Press Ctrl-C to stop.",
            ]
        )


def demo_settings(
    options: DemoOptions, service_url: str, sandbox: Sandbox, sandbox_url: str
) -> Settings:
    keys_pem = sandbox.public_keys()
    app = sandbox.oauth_app
    return load_settings(
        data_dir=options.data_dir,
        database_url=f"sqlite+aiosqlite:///{(options.data_dir / 'reconciler.db').as_posix()}",
        host=options.host,
        port=int(service_url.rsplit(":", 1)[1]),
        public_url=service_url,
        log_level=os.environ.get("RECONCILER_LOG_LEVEL", "WARNING"),
        schedule_min_interval_s=min(5, options.interval_s),
        schedule_interval_s=options.interval_s,
        schedule_jitter_s=1.0,
        schedule_refresh_s=10.0,
        lease_ttl_s=30.0,
        shutdown_grace_s=5.0,
        webhook_debounce_s=options.debounce_s,
        webhook_max_wait_s=3 * options.debounce_s,
        webhook_ed25519_public_key=keys_pem["ed25519"],
        webhook_rsa_public_key=keys_pem["rsa"],
        highlevel_base_url=sandbox_url,
        oauth_authorize_url=f"{sandbox_url}/oauth/chooselocation",
        oauth_client_id=app.client_id,
        oauth_client_secret=app.client_secret,
    )


def sandbox_config(options: DemoOptions, service_url: str) -> SandboxConfig:
    app = default_app(options.seed)
    return SandboxConfig(
        seed=options.seed,
        location_configs=[
            LocationConfig(name="Acme Roofing (HighLevel)", contacts=options.contacts),
            LocationConfig(
                name="Acme Roofing CRM mirror",
                contacts=max(0, options.contacts * 2 // 3),
                # A CRM with duplicates: the ambiguous match of the demo lives here.
                settings=LocationSettings(allow_duplicates=True),
            ),
        ],
        apps=[
            AppConfig(
                client_id=app.client_id,
                client_secret=app.client_secret,
                name="Reconciler demo app",
                redirect_uris=[f"{service_url}/oauth/callback"],
                scopes=list(CONTACT_SCOPES),
                webhook_urls=[f"{service_url}/webhooks/highlevel"],
            )
        ],
        max_notes_per_contact=2,
        # Ten times HighLevel's burst limit: every demo run reads every contact's notes, and
        # a webhook should show its effect in about a second. (Runs respect whatever limit
        # the answers' headers announce; the budget logic is tested against the real one.)
        rate_limit_max=1000,
        persist_path=options.data_dir / "sandbox.json",
    )


def _clear(data_dir: Path) -> None:
    """A fresh demo: the previous demo's store and sandbox state go (the key file stays)."""
    for name in ("reconciler.db", "reconciler.db-wal", "reconciler.db-shm", "sandbox.json"):
        (data_dir / name).unlink(missing_ok=True)


async def _setup_pair(service: Service, sandbox: Sandbox, options: DemoOptions) -> str:
    """The pair ``demo`` of the two locations, with private integration tokens."""
    now = utcnow()
    loc_a, loc_b = sandbox.locations[:2]
    async with service.store.transaction() as s:
        existing = await repo_pairs.get_pair_by_name(s, PAIR_NAME)
        if existing is not None:
            return existing.id
        account_ids = []
        for location_id in (loc_a, loc_b):
            token = sandbox.private_token(location_id, CONTACT_SCOPES)
            account = await repo_pairs.create_side_account(
                s,
                label=sandbox.location(location_id).name,
                kind=AccountKind.HIGHLEVEL,
                location_id=location_id,
                base_url=service.settings.highlevel_base_url,
                auth_kind=AuthKind.PIT,
                credentials=AccountCredentials(pit=Secret(token)),
                cipher=service.cipher,
                now=now,
            )
            account_ids.append(account.id)
        pair = await repo_pairs.create_pair(
            s,
            name=PAIR_NAME,
            side_a_account_id=account_ids[0],
            side_b_account_id=account_ids[1],
            now=now,
            policy=DEMO_POLICY,
            schedule_interval_s=options.interval_s,
        )
        # Small data: every scheduled run lists both sides completely (deletions are only
        # believed after a complete listing) and every run reads every contact's notes
        # (notes cannot be listed by change; with webhooks lost, the next run must still see
        # a new note). Production pairs keep the defaults: daily, on a rolling budget.
        scan = ScanSettings(
            full_scan_interval=timedelta(seconds=options.interval_s),
            notes_period=timedelta(seconds=1),
        )
        await s.execute(update(_PAIR).where(_PAIR.c.id == pair.id).values(scan=scan.to_json()))
        return pair.id


@contextlib.asynccontextmanager
async def running_demo(options: DemoOptions, *, echo: Echo = print) -> AsyncIterator[Demo]:
    """Sandbox and service running, the pair set up; the second act runs in the background."""
    options.data_dir.mkdir(parents=True, exist_ok=True)
    if options.fresh:
        _clear(options.data_dir)
    sock = bind(options.host, options.port)
    host = f"[{options.host}]" if ":" in options.host else options.host
    service_url = f"http://{host}:{sock.getsockname()[1]}"
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(sock.close)
        sandbox_app = create_sandbox_app(sandbox_config(options, service_url))
        sandbox: Sandbox = sandbox_app.state.sandbox
        loc_a, loc_b = sandbox.locations[:2]
        if options.fresh:
            seed_scenario(sandbox.location(loc_a), sandbox.location(loc_b))
        try:
            sandbox_url = await stack.enter_async_context(
                running_server(sandbox_app, options.host, options.sandbox_port)
            )
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot listen on {options.host}:{options.sandbox_port}: {exc.strerror} "
                "(another port: --sandbox-port)",
            ) from exc
        settings = demo_settings(options, service_url, sandbox, sandbox_url)
        configure_logging(settings)
        # The process-wide bus: the engine publishes there (conflicts opened), and the
        # console's live updates listen there.
        bus = events.bus
        service = build_service(settings, bus=bus)
        stack.push_async_callback(service.aclose)
        await service.prepare()
        pair_id = await _setup_pair(service, sandbox, options)
        _, operator = await keys.create_key(
            service.store, name="demo operator", role=ApiKeyRole.OPERATOR, actor="demo"
        )
        _, admin = await keys.create_key(
            service.store, name="demo admin", role=ApiKeyRole.ADMIN, actor="demo"
        )
        demo = Demo(
            options,
            sandbox,
            sandbox_url,
            service,
            service_url,
            pair_id,
            loc_a,
            loc_b,
            operator,
            admin,
        )
        finished = await stack.enter_async_context(
            bus.subscribe(lambda e: isinstance(e, RunFinished))
        )
        app = create_service_app(service, close_service=False)
        await stack.enter_async_context(
            serving(app, shutdown_timeout=settings.shutdown_grace_s + 2, sock=sock)
        )
        narrator = asyncio.create_task(_narrate(demo, finished, echo))
        try:
            yield demo
        finally:
            narrator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await narrator


async def _narrate(demo: Demo, finished: Subscription, echo: Echo) -> None:
    """A line per finished run; after the first one, the second act (edits on both sides)."""
    async for event in finished:
        assert isinstance(event, RunFinished)
        if event.pair_id != demo.pair_id:
            continue
        line = await _describe_run(demo, event)
        if line is not None:
            echo(line)
        if not demo.first_run.is_set():
            demo.first_run.set()
            if demo.options.edits and demo.options.fresh:
                await asyncio.sleep(0.5)  # let the sandbox's search index catch up
                try:
                    demo.edits = edit_both_sides(
                        demo.sandbox.location(demo.location_a),
                        demo.sandbox.location(demo.location_b),
                    )
                except DemoEditError as exc:
                    echo(f"the second act could not start: {exc}")
                stamp = f"{datetime.now():%H:%M:%S}"
                echo(f"[{stamp}] people edit both sides (webhooks fire):")
                for edit in demo.edits:
                    kind = f"-> {edit.conflict} conflict" if edit.conflict else "-> just syncs"
                    echo(f"           {edit.who}: {edit.what} {kind}")
            demo.edited.set()


async def _describe_run(demo: Demo, event: RunFinished) -> str | None:
    """One line about a run; None for a webhook run that found nothing to do (the echoes of
    the service's own writes come back as webhooks: those runs are quiet by design)."""
    async with demo.service.store.session() as s:
        run = await repo_runs.get_run(s, event.run_id)
        open_count = await _open_conflicts(s, demo.pair_id)
    stamp = f"{datetime.now():%H:%M:%S}"
    if run is None:
        return f"[{stamp}] run {_short(event.run_id)}: {event.status}"
    changed = any(run.counts.values()) or run.conflicts_opened or run.conflicts_closed
    if run.trigger == "webhook" and not changed and run.status == "succeeded":
        return None
    applied = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()) if v) or "no changes"
    errors = f"; {len(run.errors)} error(s), first: {run.errors[0]}" if run.errors else ""
    return (
        f"[{stamp}] run {_short(run.id)} ({run.trigger}) {run.status}: {applied}; "
        f"{run.conflicts_opened} conflict(s) opened, {run.conflicts_closed} closed, "
        f"{open_count} open{errors}"
    )


def _short(run_id: str) -> str:
    """A run id as a line shows it: its last 8 characters, the random ones (a UUIDv7 starts
    with the time, so runs made close together share their first characters)."""
    return run_id[-8:]


async def _open_conflicts(s: AsyncSession, pair_id: str) -> int:
    return await repo_conflicts.count_conflicts(s, pair_id, status=ConflictStatus.OPEN)


async def run_demo(options: DemoOptions, *, stop: asyncio.Event, echo: Echo = print) -> None:
    """Run the demo until ``stop`` is set (the CLI sets it on Ctrl-C)."""
    async with running_demo(options, echo=echo) as demo:
        echo(demo.banner())
        await stop.wait()
        echo("stopping...")
    echo("demo stopped")
