"""``reconciler serve | demo | sync | pairs add|list | conflicts list`` (and ``db``, the store's).

Settings come from ``RECONCILER_*`` variables and the ``RECONCILER_CONFIG`` TOML file. A bad
setting, or any refusal the project expects (``ReconcilerError``), ends the command with ONE
line on stderr and a non-zero exit code, never a traceback. Ctrl-C (or SIGTERM) stops
``serve`` and ``demo`` cleanly: runs in progress get the grace period, then the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from reconciler.errors import ReconcilerError
from reconciler.service.errors import ServiceError
from reconciler.service.main import Service, build_service, create_service_app
from reconciler.service.observability import configure_logging
from reconciler.service.server import serving
from reconciler.settings import Settings, load_settings
from reconciler.store import repo_conflicts, repo_pairs, repo_runs
from reconciler.store.codec import policy_from_json, policy_to_json
from reconciler.store.credentials import AccountCredentials
from reconciler.store.crypto import Cipher, Secret
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind, AuthKind, ConflictStatus
from reconciler.store.tables import PairRow

T = TypeVar("T")

pairs_app = typer.Typer(help="Pairs: two accounts kept in agreement.", no_args_is_help=True)
conflicts_app = typer.Typer(help="Conflicts waiting for a person.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the service's commands to ``reconciler`` (and the store's ``db`` group)."""
    app.command("serve")(serve_command)
    app.command("demo")(demo_command)
    app.command("sync")(sync_command)
    app.add_typer(pairs_app, name="pairs")
    app.add_typer(conflicts_app, name="conflicts")
    if not any(group.name == "db" for group in app.registered_groups):
        from reconciler.store.cli import register as register_db

        register_db(app)


# ------------------------------------------------------------------------------- plumbing


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr; the caller raises the returned ``Exit``."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ReconcilerError as exc:
        raise fail(str(exc)) from None


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main``; expected errors become one line, Ctrl-C a quiet exit."""
    try:
        return asyncio.run(main)
    except ServiceError as exc:
        raise fail(exc.message) from None
    except ReconcilerError as exc:
        raise fail(str(exc), code=1) from None
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}", code=1) from None
    except KeyboardInterrupt:
        # A second Ctrl-C while shutting down: still no traceback.
        typer.echo("stopped", err=True)
        raise typer.Exit(130) from None


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` instead of raising inside the event loop."""
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


@contextlib.asynccontextmanager
async def prepared_service(settings: Settings, *, scheduler: bool) -> AsyncIterator[Service]:
    service = build_service(settings, scheduler=scheduler)
    try:
        await service.prepare()
        yield service
    finally:
        await service.aclose()


@contextlib.asynccontextmanager
async def migrated_store(settings: Settings) -> AsyncIterator[Store]:
    from reconciler.store.migrate import upgrade

    if settings.auto_migrate:
        await upgrade(settings.database_url)
    store = Store.from_settings(settings)
    try:
        yield store
    finally:
        await store.dispose()


async def find_pair(store: Store, ref: str) -> PairRow:
    async with store.session() as s:
        pair = await repo_pairs.get_pair(s, ref) or await repo_pairs.get_pair_by_name(s, ref)
    if pair is None:
        raise ServiceError(f"no pair with id or name {ref!r}")
    return pair


# ---------------------------------------------------------------------------------- serve


def serve_command(
    host: Annotated[str | None, typer.Option(help="Interface (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default: settings).")] = None,
) -> None:
    """Run the service: GraphQL API, webhooks, OAuth install, metrics and the scheduler."""
    settings = settings_or_exit(host=host, port=port)
    configure_logging(settings)
    run_async(serve(settings))


async def serve(
    settings: Settings, *, stop: asyncio.Event | None = None, echo: Callable[[str], None] = print
) -> None:
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        async with prepared_service(settings, scheduler=settings.scheduler_enabled) as service:
            app = create_service_app(service, close_service=False)
            async with serving(
                app,
                settings.host,
                settings.port,
                shutdown_timeout=settings.shutdown_grace_s + 5,
            ) as url:
                echo(
                    f"reconciler serving at {url} (GraphQL {url}/graphql, webhooks "
                    f"{url}/webhooks/highlevel, metrics {url}/metrics); holder "
                    f"{service.leases.holder}. Press Ctrl-C to stop."
                )
                sys.stdout.flush()
                await stop.wait()
        echo("reconciler stopped")


# ----------------------------------------------------------------------------------- demo


def demo_command(
    port: Annotated[int, typer.Option(help="The service's port (0: any free one).")] = 8000,
    sandbox_port: Annotated[int, typer.Option(help="The sandbox's port (0: any).")] = 8100,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its store.")] = Path(
        "var/demo"
    ),
    interval: Annotated[
        int, typer.Option(min=5, max=900, help="Seconds between scheduled runs.")
    ] = 20,
    contacts: Annotated[int, typer.Option(min=0, max=500, help="Contacts per location.")] = 30,
    keep: Annotated[
        bool, typer.Option(help="Keep the previous demo's store instead of starting afresh.")
    ] = False,
) -> None:
    """The demo: two sandbox HighLevel locations with realistic data and edits on both sides
    that make every kind of conflict, the service syncing them, webhooks wired."""
    from reconciler.service.demo import DemoOptions, run_demo

    options = DemoOptions(
        data_dir=data_dir,
        port=port,
        sandbox_port=sandbox_port,
        interval_s=interval,
        contacts=contacts,
        fresh=not keep,
    )
    run_async(_demo(options, run_demo))


async def _demo(options: Any, run_demo: Callable[..., Awaitable[None]]) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        await run_demo(options, stop=stop)


# ----------------------------------------------------------------------------------- sync


def sync_command(
    pair: Annotated[str, typer.Option("--pair", help="The pair's id or name.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan only; the plan is stored to apply later.")
    ] = False,
    full_scan: Annotated[
        bool | None,
        typer.Option("--full-scan/--incremental", help="Force a complete listing (or not)."),
    ] = None,
) -> None:
    """Run one pair now and print its report (refused while the pair runs elsewhere)."""
    settings = settings_or_exit()
    configure_logging(settings)
    report = run_async(_sync(settings, pair, dry_run, full_scan))
    if report.status == "failed":
        raise typer.Exit(1)


async def _sync(settings: Settings, ref: str, dry_run: bool, full_scan: bool | None) -> Any:
    from reconciler.service.progress import RunProgress

    async with prepared_service(settings, scheduler=False) as service:
        pair = await find_pair(service.store, ref)
        with RunProgress(f"{'planning' if dry_run else 'syncing'} {pair.name}") as hooks:
            outcome = await service.runner.run(
                pair.id, trigger="manual", dry_run=dry_run, full_scan=full_scan, hooks=hooks
            )
    if outcome.report is None:
        raise ServiceError(f"pair {pair.name} is being run right now; try again later")
    report = outcome.report
    applied = ", ".join(f"{k}={v}" for k, v in sorted(report.counts.items()) if v) or "nothing"
    typer.echo(f"run {report.run_id}: {report.status}{' (dry run)' if report.dry_run else ''}")
    typer.echo(f"  applied: {applied}")
    typer.echo(
        f"  conflicts: {report.conflicts_opened} opened, {report.conflicts_closed} closed; "
        f"parked: {report.parked}"
    )
    typer.echo(
        "  requests: "
        + ", ".join(f"{side}={n}" for side, n in sorted(report.requests.items()))
        + "; complete snapshot: "
        + ", ".join(f"{side}={'yes' if c else 'no'}" for side, c in sorted(report.complete.items()))
    )
    if report.plan_id:
        typer.echo(f"  plan: {report.plan_id}")
    for error in list(report.errors)[:10]:
        typer.echo(f"  error: {error}")
    return report


# ---------------------------------------------------------------------------------- pairs

_DURATION = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")


def parse_interval(text: str, settings: Settings) -> int:
    """``"5m"``, ``"90s"``, ``"300"`` (seconds) within the configured bounds."""
    match = _DURATION.match(text)
    if match is None:
        raise ServiceError(f"interval {text!r}: give seconds, or a number with s, m or h")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    low, high = settings.schedule_min_interval_s, settings.schedule_max_interval_s
    if not low <= seconds <= high:
        raise ServiceError(f"interval must be within {low} and {high} seconds (got {seconds})")
    return seconds


def parse_side(spec: str) -> tuple[AccountKind, str]:
    """``highlevel:<location id>`` or ``memory:<label>``."""
    kind, sep, ident = spec.partition(":")
    try:
        account_kind = AccountKind(kind.strip().lower())
    except ValueError:
        raise ServiceError(
            f"side {spec!r}: write highlevel:<location id> or memory:<label>"
        ) from None
    if not sep or not ident.strip():
        raise ServiceError(f"side {spec!r}: the part after ':' is missing")
    return account_kind, ident.strip()


def parse_policy(items: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ServiceError(f"policy {item!r}: write key=value")
        try:
            values[key.strip()] = json.loads(raw)
        except ValueError:
            values[key.strip()] = raw.strip()
    try:
        return policy_to_json(policy_from_json(values))
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


@pairs_app.command("add")
def pairs_add(
    name: Annotated[str, typer.Argument(help="A unique name for the pair.")],
    side_a: Annotated[str, typer.Option("--a", help="highlevel:<location id> or memory:<label>")],
    side_b: Annotated[str, typer.Option("--b", help="highlevel:<location id> or memory:<label>")],
    a_token: Annotated[
        str | None,
        typer.Option(
            envvar="RECONCILER_A_TOKEN",
            help="Private integration token of side A (else install it with OAuth).",
        ),
    ] = None,
    b_token: Annotated[
        str | None, typer.Option(envvar="RECONCILER_B_TOKEN", help="Same for side B.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="HighLevel API base URL (e.g. a sandbox's).")
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="How often it runs: 300, 90s, 5m (default: settings).")
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option("--policy", help="key=value, e.g. note_conflict=merge (repeatable)."),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it paused.")] = False,
) -> None:
    """Add a pair of two accounts (an account is shared by every pair of its location)."""
    settings = settings_or_exit()
    try:
        seconds = parse_interval(interval, settings) if interval else settings.schedule_interval_s
        sides = [parse_side(side_a), parse_side(side_b)]
        policy_json = parse_policy(policy or [])
    except ServiceError as exc:
        raise fail(exc.message) from None
    row = run_async(
        _pairs_add(
            settings,
            name,
            sides,
            [a_token, b_token],
            base_url,
            seconds,
            policy_json,
            enabled=not disabled,
        )
    )
    typer.echo(f"added pair {row.name} ({row.id}), every {row.schedule_interval_s}s")
    for label, (kind, _ident), token in (("a", sides[0], a_token), ("b", sides[1], b_token)):
        if kind == AccountKind.HIGHLEVEL and token is None:
            typer.echo(
                f"  side {label}: no token; install it: "
                f"{settings.service_url}/oauth/start?pair={row.id}&side={label}"
            )


async def _pairs_add(
    settings: Settings,
    name: str,
    sides: list[tuple[AccountKind, str]],
    tokens: list[str | None],
    base_url: str | None,
    interval_s: int,
    policy_json: dict[str, Any],
    *,
    enabled: bool,
) -> PairRow:
    cipher = Cipher.from_settings(settings)
    now = datetime.now(UTC)
    async with migrated_store(settings) as store, store.transaction() as s:
        if await repo_pairs.get_pair_by_name(s, name) is not None:
            raise ServiceError(f"a pair named {name!r} exists already")
        account_ids: list[str] = []
        for (kind, ident), token in zip(sides, tokens, strict=True):
            account_ids.append(await _account(s, cipher, kind, ident, token, base_url, now=now))
        if account_ids[0] == account_ids[1]:
            raise ServiceError("a pair needs two different accounts")
        return await repo_pairs.create_pair(
            s,
            name=name,
            side_a_account_id=account_ids[0],
            side_b_account_id=account_ids[1],
            now=now,
            policy=policy_from_json(policy_json),
            schedule_interval_s=interval_s,
            enabled=enabled,
        )


async def _account(
    s: Any,
    cipher: Cipher,
    kind: AccountKind,
    ident: str,
    token: str | None,
    base_url: str | None,
    *,
    now: datetime,
) -> str:
    credentials = AccountCredentials(pit=Secret(token)) if token else None
    if kind == AccountKind.HIGHLEVEL:
        existing = await repo_pairs.find_side_account(s, kind, ident)
        if existing is not None:
            if credentials is not None:
                await repo_pairs.set_credentials(s, cipher, existing.id, credentials, now=now)
            return existing.id
        row = await repo_pairs.create_side_account(
            s,
            label=f"HighLevel {ident}",
            kind=kind,
            location_id=ident,
            base_url=base_url,
            auth_kind=AuthKind.PIT if token else AuthKind.OAUTH,
            credentials=credentials,
            cipher=cipher,
            now=now,
        )
        return row.id
    row = await repo_pairs.create_side_account(
        s, label=ident, kind=kind, location_id=ident, now=now
    )
    return row.id


@pairs_app.command("list")
def pairs_list() -> None:
    """Every pair: sides, interval, state, last run, open conflicts."""
    settings = settings_or_exit()
    for line in run_async(_pairs_list(settings)):
        typer.echo(line)


async def _pairs_list(settings: Settings) -> list[str]:
    async with migrated_store(settings) as store, store.session() as s:
        pairs = await repo_pairs.list_pairs(s)
        accounts = {a.id: a for a in await repo_pairs.list_side_accounts(s)}
        lines = []
        for pair in pairs:
            runs = await repo_runs.list_runs(s, pair.id, limit=1)
            last = (
                f"last run {runs[0].status} at {runs[0].started_at:%Y-%m-%d %H:%M:%S}Z"
                if runs
                else "never run"
            )
            open_count = await repo_conflicts.count_conflicts(s, pair.id)
            a, b = accounts[pair.side_a_account_id], accounts[pair.side_b_account_id]
            lines.append(
                f"{pair.id}  {pair.name}  {a.kind}:{a.location_id} <-> {b.kind}:{b.location_id}"
                f"  every {pair.schedule_interval_s}s  {'enabled' if pair.enabled else 'paused'}"
                f"  {last}  {open_count} open conflict(s)"
            )
    return lines or ["no pairs yet: add one with `reconciler pairs add`"]


# ------------------------------------------------------------------------------ conflicts


@conflicts_app.command("list")
def conflicts_list(
    pair: Annotated[str | None, typer.Option(help="Only this pair (id or name).")] = None,
    status: Annotated[str, typer.Option(help="open, resolved or closed.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Conflicts, newest first, with both sides' values."""
    settings = settings_or_exit()
    try:
        wanted = ConflictStatus(status)
    except ValueError:
        raise fail("status must be open, resolved or closed") from None
    for line in run_async(_conflicts_list(settings, pair, wanted, limit)):
        typer.echo(line)


async def _conflicts_list(
    settings: Settings, ref: str | None, status: ConflictStatus, limit: int
) -> list[str]:
    async with migrated_store(settings) as store:
        pair_id = (await find_pair(store, ref)).id if ref else None
        async with store.session() as s:
            rows = await repo_conflicts.list_conflicts(
                s, pair_id=pair_id, status=status, limit=limit
            )
            names = {p.id: p.name for p in await repo_pairs.list_pairs(s)}
    lines = [
        f"{row.id}  {names.get(row.pair_id, row.pair_id)}  {row.kind:<14} {row.scope:<24}"
        f"  A: {_short(row.a_value)}  B: {_short(row.b_value)}"
        for row in rows
    ]
    return lines or [f"no {status.value} conflicts"]


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
