"""The `casedesk` command: the one place that wires the parts together."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import click
from pydantic import ValidationError

from casedesk import __version__

if TYPE_CHECKING:
    from casedesk.config import Profile

T = TypeVar("T")


@dataclass
class Target:
    """What `--url` / `--profile` chose, before anything is opened."""

    url: str | None
    profile: str | None


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"casedesk: {message}", err=True)
    sys.exit(code)


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="casedesk")
@click.option("--url", help="Case API root URL (the key comes from CASEDESK_API_KEY).")
@click.option("--profile", help="Profile of the config file to use.")
@click.pass_context
def main(context: click.Context, url: str | None, profile: str | None) -> None:
    """casedesk: a keyboard-driven console for case reviewers, and its case API.

    With no command, opens the console for the profile.
    """
    context.obj = Target(url=url, profile=profile)
    if context.invoked_subcommand is None:
        open_console(context.obj)


def open_console(target: Target) -> None:
    """Run the console over the profile's cache, outbox and API until the reviewer quits.

    The data directory's lock is taken first (a second console is refused before it
    paints); the queue's head is painted next, and the store, the client and their
    models load behind it (`casedesk.domain.queue_head`).
    """
    from casedesk.domain.clock import system_clock
    from casedesk.store.errors import StoreLocked
    from casedesk.store.files import lock_data_dir
    from casedesk.store.head_file import load_head
    from casedesk.tui.app import CasedeskApp
    from casedesk.tui.settings import ConsoleSettings

    profile = _profile(target)
    data_dir = Path(profile.data_dir)
    try:
        lock = lock_data_dir(data_dir)
    except StoreLocked as error:
        _fail(str(error))
        raise
    settings = ConsoleSettings(
        profile=profile.name,
        sync_interval_seconds=profile.sync_interval_seconds,
        theme=profile.theme,
        start_view=profile.start_view,
    )
    opened: dict[str, Any] = {}

    async def opening() -> Any:
        from casedesk.api.client import CaseApiClient
        from casedesk.store.local import LocalStore
        from casedesk.sync.service import CaseService

        store = opened["store"] = await asyncio.to_thread(LocalStore.open, data_dir, lock=lock)
        client = opened["client"] = CaseApiClient.from_profile(profile)
        return CaseService(profile_name=profile.name, store=store, backend=client)

    async def run() -> int | None:
        app = CasedeskApp(
            None,
            settings,
            opening=opening,
            head=load_head(data_dir, view=settings.start_view, now=system_clock()),
            clock=system_clock,
        )
        try:
            await app.run_async()
        finally:
            if "client" in opened:
                await opened["client"].aclose()
            if "store" in opened:
                opened["store"].close()  # and its lock
            else:
                lock.release()
        return app.return_code

    code = asyncio.run(run())
    if code:
        sys.exit(code)


# -- wiring -------------------------------------------------------------------------


def _profile(target: Target) -> "Profile":
    """The profile `--url` / `--profile` chose (its warnings said); a bad config exits 1."""
    from casedesk.config import ConfigError, resolve_profile

    try:
        profile = resolve_profile(target.url, target.profile)
    except ConfigError as error:
        _fail(str(error))
        raise
    for warning in profile.warnings:
        click.echo(f"casedesk: warning: {warning}", err=True)
    return profile


@asynccontextmanager
async def _service(target: Target, *, one_attempt: bool = False) -> AsyncIterator[Any]:
    """Resolve the profile, lock its data dir, and connect: the object graph of one command."""
    from casedesk.api.client import CaseApiClient
    from casedesk.api.retry import RetryPolicy
    from casedesk.store.errors import StoreLocked
    from casedesk.store.local import LocalStore
    from casedesk.sync.service import CaseService

    profile = _profile(target)
    try:
        store = await asyncio.to_thread(LocalStore.open, profile.data_dir)
    except StoreLocked as error:
        _fail(str(error))
        raise
    client = CaseApiClient.from_profile(profile)
    if one_attempt:
        client = client.with_retry(RetryPolicy.never())
    service = CaseService(profile_name=profile.name, store=store, backend=client)
    for event in service.store_events():
        click.echo(f"casedesk: {event}", err=True)
    if store.outbox_problem is not None:
        click.echo(f"casedesk: {store.outbox_problem}", err=True)
    try:
        yield service
    finally:
        await client.aclose()
        store.close()


def _run(
    target: Target,
    work: Callable[[Any], Awaitable[T]],
    *,
    check_key: bool = False,
    one_attempt: bool = False,
) -> T:
    """Run `work` with the command's service; a refused key exits non-zero, never echoed.

    `check_key`: ask the API first, for commands that otherwise only read the cache.
    """
    from casedesk.api.errors import Unauthorized

    async def main() -> T:
        async with _service(target, one_attempt=one_attempt) as service:
            if check_key:
                await service.check_key()
                if service.online is False:
                    _offline_notice(service)
            return await work(service)

    try:
        return asyncio.run(main())
    except Unauthorized:
        _fail("the API refused the key (401): check CASEDESK_API_KEY or the profile's api_key")
        raise


def _sync_with_progress(service: Any, *, full: bool = False) -> Any:
    """`service.sync` with a progress bar on stderr; the result."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from casedesk.sync.events import SyncProgress

    async def run() -> Any:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[figures]}"),
            TimeElapsedColumn(),
            console=_stderr_console(),
            transient=True,
        ) as bar:
            task = bar.add_task("sync", total=None, figures="")

            def report(event: SyncProgress) -> None:
                if event.phase == "details":
                    bar.update(
                        task,
                        description="details",
                        total=event.details_total,
                        completed=event.details_done,
                        figures=f"{event.details_done}/{event.details_total} cases",
                    )
                else:
                    bar.update(
                        task,
                        description=event.phase,
                        figures=f"{event.pages} pages, {event.cases} cases, "
                        f"{event.bytes / 1e6:.1f} MB",
                    )

            return await service.sync(full=full, progress=report)

    return run()


def _offline_notice(service: Any) -> None:
    state = service.store.cache.sync_state()
    when = state.last_sync_at.strftime("%Y-%m-%d %H:%M UTC") if state.last_sync_at else "never"
    click.echo(f"casedesk: offline — showing the cache (last sync: {when})", err=True)


# -- the demo ---------------------------------------------------------------------


@main.command()
@click.option(
    "--as",
    "role",
    type=click.Choice(["reviewer", "contributor"]),
    default="reviewer",
    show_default=True,
    help="Whose key the console uses.",
)
@click.option("--demo-cases", default=2000, show_default=True, type=click.IntRange(1))
def demo(role: str, demo_cases: int) -> None:
    """The whole experience in one command: a demo case API, a profile, a synced console."""
    import os

    from casedesk import paths
    from casedesk.api.secret import ApiKey
    from casedesk.config import ProfileSettings, save_profile
    from casedesk.server_process import start_server

    server_dir = paths.ensure_private_dir(paths.data_dir() / "demo-server")
    click.echo(f"casedesk: starting the demo case API (data in {server_dir})…", err=True)
    with (server_dir / "server.log").open("ab") as log:
        server = start_server(server_dir, demo_cases=demo_cases, log=log)
    try:
        users = [u for u in server.demo_users() if u["roles"] == [role]]
        user = users[0]
        profile = "demo" if role == "reviewer" else f"demo-{role}"
        save_profile(profile, ProfileSettings(url=server.base_url, api_key=ApiKey(user["api_key"])))
        # The demo's own key, not whatever CASEDESK_API_KEY holds for real work.
        os.environ.pop("CASEDESK_API_KEY", None)
        click.echo(f"casedesk: signed in as {user['name']} ({role})", err=True)
        target = Target(url=None, profile=profile)

        async def first_sync(service: Any) -> None:
            if service.last_sync_at() is None:
                await _sync_with_progress(service)

        _run(target, first_sync)
        open_console(target)
    finally:
        server.stop()


# -- the API server -----------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("casedesk-data"),
    show_default=True,
    help="Where the database and uploaded documents live.",
)
@click.option("--demo", is_flag=True, help="Seed demo data if the database is empty.")
@click.option("--demo-cases", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int, help="Demo data seed.")
@click.option("--fault-latency-ms", default=0.0, type=click.FloatRange(0), help="Testing: delay.")
@click.option("--fault-error-rate", default=0.0, type=click.FloatRange(0, 1), help="Testing: 500s.")
@click.option("--rate-limit", default=0.0, type=click.FloatRange(0), help="Testing: requests/s.")
@click.option("--log-level", default="warning", show_default=True)
@click.option(
    "--frozen-now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z"]),
    hidden=True,
    help="Testing and screenshots: the server's clock stands still at this instant.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    demo: bool,
    demo_cases: int,
    seed: int,
    fault_latency_ms: float,
    fault_error_rate: float,
    rate_limit: float,
    log_level: str,
    frozen_now: datetime | None,
) -> None:
    """Run the case API (FastAPI + SQLite)."""
    from casedesk.server.faults import FaultConfig
    from casedesk.server.run import ServeOptions
    from casedesk.server.run import serve as run_server

    run_server(
        ServeOptions(
            host=host,
            port=port,
            data_dir=data_dir,
            demo=demo,
            demo_cases=demo_cases,
            seed=seed,
            faults=FaultConfig(
                latency_ms=fault_latency_ms,
                error_rate=fault_error_rate,
                rate_limit_per_s=rate_limit,
            ),
            log_level=log_level,
            frozen_now=frozen_now,
        )
    )


# -- sync and reading ---------------------------------------------------------------


@main.command()
@click.option("--full", is_flag=True, help="Fetch every case again, not only changes.")
@click.pass_obj
def sync(target: Target, full: bool) -> None:
    """Send queued actions and pull changes into the cache (with a progress bar)."""

    async def work(service: Any) -> Any:
        return await _sync_with_progress(service, full=full)

    result = _run(target, work)
    pushed = result.push
    if result.pull is None:
        click.echo(f"casedesk: sync failed: {result.error}", err=True)
        click.echo(f"sent {pushed.sent}, waiting {pushed.retrying}, parked {pushed.parked}")
        sys.exit(1)
    pulled = result.pull
    kind = "full" if pulled.full else "incremental"
    click.echo(
        f"{kind} sync: {pulled.cases} cases in {pulled.pages} pages, {pulled.details} case "
        f"details, {pulled.seconds:.2f} s; sent {pushed.sent}, waiting {pushed.retrying}, "
        f"parked {pushed.parked}"
    )


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, markup=False, highlight=False)


@main.command()
@click.argument("query", required=False, default="")
@click.option("--view", help="mine, unassigned, sla_at_risk, sla_breached, escalated, …")
@click.option("--limit", type=click.IntRange(1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of case objects.")
@click.pass_obj
def cases(target: Target, query: str, view: str | None, limit: int | None, as_json: bool) -> None:
    """List cached cases, filtered with the queue's query language."""
    from casedesk.domain.query import QueryError
    from casedesk.domain.views import VIEWS_BY_KEY
    from casedesk.render import case_lines

    if view is not None and view not in VIEWS_BY_KEY:
        _fail(f"--view: unknown view {view!r}; one of {', '.join(VIEWS_BY_KEY)}", 2)

    async def work(service: Any) -> None:
        try:
            rows = service.queue(query, view=view)
        except QueryError as error:
            _fail(f"query: {error.message} (at {error.position}: {error.term!r})", 2)
        if service.store.cache.sync_state().last_sync_at is None:
            click.echo("casedesk: the cache is empty: run `casedesk sync` first", err=True)
        shown = rows[:limit] if limit else rows
        if as_json:
            found = [service.store.cache.case(row.id) for row in shown]
            payload = [case.model_dump(mode="json") for case in found if case is not None]
            click.echo(json.dumps(payload, ensure_ascii=False))
        else:
            for line in case_lines(shown, service.clock()):
                click.echo(line)
            click.echo(f"{len(shown)} of {len(rows)} cases", err=True)

    _run(target, work, check_key=True, one_attempt=True)


@main.command()
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="The case object as the API returns it.")
@click.pass_obj
def case(target: Target, reference: str, as_json: bool) -> None:
    """Show one case (fresh from the API when it answers, else from the cache)."""
    from casedesk.render import case_detail_lines

    async def work(service: Any) -> None:
        details = await service.open_case(reference)
        if details is None:
            _fail(f"no cached case {reference!r}; run `casedesk sync` first", 2)
        if service.online is False:
            _offline_notice(service)
        if as_json:
            click.echo(json.dumps(details.case.model_dump(mode="json"), ensure_ascii=False))
        else:
            for line in case_detail_lines(details, service.clock()):
                click.echo(line)

    _run(target, work)


# -- the outbox and actions ---------------------------------------------------------


def _item_json(item: Any) -> dict[str, Any]:
    wanted = (
        "id", "case_id", "case_reference", "type", "body", "state", "attempts",
        "next_attempt_at", "last_error", "created_at",
    )  # fmt: skip
    dumped: dict[str, Any] = item.model_dump(mode="json")
    shown = {key: dumped[key] for key in wanted}
    if item.pending:
        shown["state"] = "pending"
    return shown


@main.command()
@click.option("--retry", "retry_id", type=click.UUID, help="Queue a parked item again.")
@click.option("--discard", "discard_id", type=click.UUID, help="Remove an item for good.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of outbox items.")
@click.pass_obj
def outbox(target: Target, retry_id: UUID | None, discard_id: UUID | None, as_json: bool) -> None:
    """List queued, sending and parked actions; retry or discard one."""
    from casedesk.render import outbox_lines
    from casedesk.store.errors import StoreError

    async def work(service: Any) -> None:
        if service.store.outbox_problem is not None:
            _fail(str(service.store.outbox_problem))
        try:
            if retry_id is not None:
                item = service.retry(retry_id)
                click.echo(f"queued again: {item.id} ({item.type} on {item.case_reference})")
                await service.push(ignore_backoff=True)
            if discard_id is not None:
                item = service.discard(discard_id)
                click.echo(f"discarded: {item.id} ({item.type} on {item.case_reference})")
        except (StoreError, KeyError) as error:
            _fail(str(error), 2)
        items = service.outbox()
        if as_json:
            click.echo(json.dumps([_item_json(item) for item in items], ensure_ascii=False))
        elif retry_id is None and discard_id is None:
            for line in outbox_lines(items):
                click.echo(line)

    _run(target, work, check_key=True, one_attempt=True)


_LIST_FIELDS = frozenset({"document_ids", "reviewer_ids"})
_ITEM_FIELDS = ("escalation_id", "note", "follow_up_due_at", "assigned_to_email")
_FILE_OPTION = "file"
"""`comment --file PATH`: a file to attach (copied in now, uploaded before the comment)."""


def action_body(action_type: str, options: list[str], *, me: str | None) -> dict[str, Any]:
    """`--reason "…" --escalate-to ID` → an action body; repeated list options accumulate."""
    body: dict[str, Any] = {"type": action_type}
    index = 0
    while index < len(options):
        option = options[index]
        if not option.startswith("--") or index + 1 >= len(options):
            raise click.UsageError(f"expected --field value pairs, got {option!r}")
        name = option[2:].replace("-", "_")
        value: Any = options[index + 1]
        index += 2
        if name in _LIST_FIELDS:
            body.setdefault(name, []).extend(v for v in str(value).split(",") if v)
            continue
        if name == _FILE_OPTION:  # a path may hold commas: one --file per file
            body.setdefault(name, []).append(value)
            continue
        if name == "assignee_id" and value in {"me", "none"}:
            value = me if value == "me" else None
        body[name] = value
    if action_type == "update_escalation" and "escalations" not in body:
        item = {key: body.pop(key) for key in _ITEM_FIELDS if key in body}
        body["escalations"] = [item]
    elif isinstance(body.get("escalations"), str):
        body["escalations"] = json.loads(body["escalations"])
    return body


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("reference")
@click.argument("action_type", metavar="TYPE")
@click.pass_context
def act(context: click.Context, reference: str, action_type: str) -> None:
    """Queue an action (e.g. `act CAS-000142 comment --body "…" [--file PATH]…`) and try to
    send it once."""
    from casedesk.domain.actions import POSTABLE_ACTION_TYPES, case_action_adapter
    from casedesk.store.errors import StoreError

    target: Target = context.obj
    if action_type not in POSTABLE_ACTION_TYPES:
        _fail(
            f"unknown action {action_type!r}; one of {', '.join(sorted(POSTABLE_ACTION_TYPES))}", 2
        )

    async def work(service: Any) -> Any:
        me = service.me()
        try:
            body = action_body(action_type, list(context.args), me=str(me.id) if me else None)
            files = [str(path) for path in body.pop(_FILE_OPTION, [])]
            if files and action_type != "comment":
                raise click.UsageError("--file attaches files to a comment only")
            action = case_action_adapter.validate_python(body)
        except click.UsageError as error:
            _fail(error.message, 2)
        except (ValidationError, json.JSONDecodeError) as error:
            _fail(f"not queued: {_field_errors(error, action_type)}", 2)
        for path in files:
            problem = service.attachment_problem(path)
            if problem is not None:
                _fail(f"not queued: --file: {problem}", 2)
        try:
            if files:
                copies = await service.stage_attachments(files)
                documents = [*getattr(action, "document_ids", []), *copies]
                action = action.model_copy(update={"document_ids": documents})
            return await service.act(reference, action)
        except LookupError as error:
            _fail(str(error.args[0]), 2)
        except (OSError, StoreError) as error:  # disk full, read-only, unreadable outbox
            _fail(f"not queued: the outbox could not be written ({error})")

    queued = _run(target, work, one_attempt=True)
    item = queued.item
    if item.park_reason is not None and item.park_reason.value == "needs_credentials":
        _fail(
            f"the API refused the key: the action stays in the outbox ({item.id}); fix the key, "
            "then run `casedesk sync`"
        )
    if queued.sent:
        click.echo(f"sent: {item.type} on {item.case_reference}")
    elif item.park_reason is not None:
        click.echo(
            f"queued but refused by the API ({item.park_reason.value}): {queued.error}; "
            f"see `casedesk outbox`",
        )
    else:
        reason = f" ({queued.error})" if queued.error else ""
        click.echo(f"queued, not sent yet{reason}: it will be sent at the next sync")


def _field_errors(error: Exception, action_type: str) -> str:
    if not isinstance(error, ValidationError):
        return str(error)
    parts = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        if location and location[0] == action_type:
            location = location[1:]
        field = "--" + ".".join(location).replace("_", "-") if location else "the action"
        parts.append(f"{field}: {problem['msg']}")
    return "; ".join(parts)
