"""SVG snapshots of the console's main screens (pytest-textual-snapshot).

Everything that reaches the screen is fixed by the fixtures, never by product
code: a server of this module's own seeded with a fixed seed and started with
`--frozen-now`, never written to; the service's clock frozen at that instant;
`TZ=UTC`; no cursor blink; 160x50 cells. The cache is synced once and every
snapshot opens its own copy of it, so store locks never collide and a snapshot
cannot see what another one did (e.g. reading a chat clears its unread flag).

Review a change with the HTML report pytest writes on failure, then accept it
with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.clock import frozen_clock
from casedesk.server_process import start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.filter_bar import FilterBar

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SEED = 6
CASES = 40
SIZE = (160, 50)
CLOSED_PORT = "http://127.0.0.1:9"
ONE_TRY = RetryPolicy(attempts=1)

Step = Callable[[Pilot[Any]], Awaitable[None]]


# -- fixtures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """The module's server and a cache synced from it (to be copied, never opened)."""

    base_url: str
    key: str
    cache: Path


@pytest.fixture(scope="module")
def utc() -> Iterator[None]:
    """Local times (`synced 09:00`, chat times) read the same on every machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


async def _fill_cache(data: Path, base_url: str, key: str) -> None:
    store = LocalStore.open(data, clock=frozen_clock(NOW))
    client = CaseApiClient(base_url, ApiKey(key))
    try:
        service = CaseService(
            profile_name="demo", store=store, backend=client, clock=frozen_clock(NOW)
        )
        await service.sync()
    finally:
        await client.aclose()
        store.close()


@pytest.fixture(scope="module")
def seeded(utc: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("snapshots")
    with (root / "server.log").open("wb") as log:
        server = start_server(
            root / "server",
            "--frozen-now",
            NOW.strftime("%Y-%m-%dT%H:%M:%S%z"),
            demo_cases=CASES,
            seed=SEED,
            log=log,
        )
        try:
            key = next(u["api_key"] for u in server.demo_users() if u["roles"] == ["reviewer"])
            # A sync function: snap_compare runs each app in an event loop of its own.
            asyncio.run(_fill_cache(root / "cache", server.base_url, key))
            yield Seeded(server.base_url, key, root / "cache")
        finally:
            server.stop()


class SnapshotConsole(CasedeskApp):
    """The console as cli.py builds it; it closes its API client and store when it exits.

    snap_compare runs the app in an event loop of its own, so the client (whose
    connections belong to that loop) is closed on the way out, inside it.
    """

    def __init__(
        self, service: CaseService, settings: ConsoleSettings, client: CaseApiClient
    ) -> None:
        super().__init__(service, settings)
        self._client = client

    async def on_unmount(self) -> None:
        await self._client.aclose()
        self.service.store.close()


@pytest.fixture
def console(seeded: Seeded, tmp_path: Path) -> Callable[..., SnapshotConsole]:
    """`console(offline=False, theme="dark")`: an app over a fresh copy of the synced cache."""

    def build(*, offline: bool = False, theme: str = "dark") -> SnapshotConsole:
        data = tmp_path / "cache"
        shutil.copytree(seeded.cache, data)
        store = LocalStore.open(data, clock=frozen_clock(NOW))
        if offline:
            client = CaseApiClient(CLOSED_PORT, ApiKey(seeded.key), retry=ONE_TRY)
        else:
            client = CaseApiClient(seeded.base_url, ApiKey(seeded.key))
        service = CaseService(
            profile_name="demo", store=store, backend=client, clock=frozen_clock(NOW)
        )
        settings = ConsoleSettings(profile="demo", sync_on_start=False, theme=theme)
        return SnapshotConsole(service, settings, client)

    return build


# -- driving ---------------------------------------------------------------------------


async def settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def steps(*actions: Step | str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A `run_before`: wait for the queue, then each key or step, settling after each."""

    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for action in actions:
            if isinstance(action, str):
                await pilot.press(action)
            else:
                await action(pilot)
            await settle(pilot)
        for screen in pilot.app.screen_stack:
            for field in screen.query(Input):
                field.cursor_blink = False
        await pilot.pause()

    return run


def typed_filter(text: str) -> Step:
    """The filter line holding `text`, as if pasted (typing it key by key is 20 presses)."""

    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("slash")
        field = pilot.app.screen.query_one(FilterBar).input
        field.cursor_blink = False
        field.value = text
        field.cursor_position = len(text)

    return run


async def open_busiest_case(pilot: Pilot[Any]) -> None:
    """Enter on the first row whose case has an open escalation and a pending override."""
    queue = pilot.app.screen
    assert isinstance(queue, QueueScreen)
    table = queue.table
    index = next(
        i
        for i, row in enumerate(table.rows)
        if row.open_escalations_count and row.pending_override_id is not None
    )
    table.set_cursor(index)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen) and not screen.fetching


# -- snapshots -------------------------------------------------------------------------


def test_queue_opens_on_all_open(snap_compare: Any, console: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=steps())


def test_queue_in_the_light_theme(snap_compare: Any, console: Any) -> None:
    assert snap_compare(console(theme="light"), terminal_size=SIZE, run_before=steps())


def test_queue_view_chosen_by_number_key(snap_compare: Any, console: Any) -> None:
    """`5`: the Escalated view."""
    assert snap_compare(console(), terminal_size=SIZE, run_before=steps("5"))


def test_filter_with_an_error_under_it(snap_compare: Any, console: Any) -> None:
    run = steps(typed_filter("risk:high colour:red"))
    assert snap_compare(console(), terminal_size=SIZE, run_before=run)


def test_help_lists_the_queue_keys(snap_compare: Any, console: Any) -> None:
    assert snap_compare(console(), terminal_size=SIZE, run_before=steps("question_mark"))


@pytest.mark.parametrize(
    "key",
    ["1", "2", "3", "4", "5"],
    ids=["overview", "chat", "escalations", "overrides", "activity"],
)
def test_case_screen_tab(snap_compare: Any, console: Any, key: str) -> None:
    run = steps(open_busiest_case, key)
    assert snap_compare(console(), terminal_size=SIZE, run_before=run)


def test_offline_after_a_sync_attempt(snap_compare: Any, console: Any) -> None:
    """`r` with the API on a closed port: the bar turns offline and says why."""
    assert snap_compare(console(offline=True), terminal_size=SIZE, run_before=steps("r"))
