"""A start paints the queue's head at once, then the open cache replaces it (domain.queue_head).

Real parts: a demo server, a synced cache on disk, the head file the console wrote;
the store is opened by the test's `opening`, held back on an event so that what
the console shows before the cache is open can be looked at.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tuikit import screen_text

from casedesk.api.client import CaseApiClient
from casedesk.api.secret import ApiKey
from casedesk.domain.clock import system_clock
from casedesk.domain.queue_head import HEAD_ROWS, QueueHead
from casedesk.store.files import lock_data_dir
from casedesk.store.head_file import HEAD_FILE, load_head
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.status_bar import StatusBar

SIZE = (160, 50)
SETTINGS = ConsoleSettings(profile="test", sync_on_start=False)


@pytest.fixture
async def data_dir(live_server: Any, tmp_path: Path) -> AsyncIterator[Path]:
    """A synced cache whose console has run once (and so kept a head)."""
    root = tmp_path / "data"
    store = LocalStore.open(root)
    client = CaseApiClient(live_server.base_url, ApiKey(live_server.key("reviewer")))
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    app = CasedeskApp(service, SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    await client.aclose()
    store.close()
    yield root


class HeldOpening:
    """Opens the store when the test says so."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = lock_data_dir(root)
        self.go = asyncio.Event()
        self.store: LocalStore | None = None

    async def __call__(self) -> CaseService:
        await self.go.wait()
        self.store = await asyncio.to_thread(LocalStore.open, self.root, lock=self.lock)
        return CaseService(profile_name="test", store=self.store, backend=None)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        else:
            self.lock.release()


async def wait_until(condition: Any, pilot: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the console never got there")


def kept_head(data_dir: Path) -> QueueHead:
    head = load_head(data_dir, view="all_open", now=system_clock())
    assert head is not None and head.rows
    return head


@asynccontextmanager
async def opening_console(
    data_dir: Path, head: QueueHead | None
) -> AsyncIterator[tuple[CasedeskApp, Any, HeldOpening]]:
    """The console started over `data_dir`, `head` painted, its store held back."""
    opening = HeldOpening(data_dir)
    app = CasedeskApp(None, SETTINGS, opening=opening, head=head)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            yield app, pilot, opening
    finally:
        opening.close()


async def let_open(opening: HeldOpening, queue: QueueScreen, pilot: Any) -> None:
    """Let the store open, and wait until the queue shows the cache's rows."""
    opening.go.set()
    await wait_until(lambda: queue.snapshot is not None, pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_head_is_painted_before_the_cache_opens_then_replaced_in_place(
    data_dir: Path,
) -> None:
    head = kept_head(data_dir)
    async with opening_console(data_dir, head) as (app, pilot, opening):
        queue = app.screen
        assert isinstance(queue, QueueScreen) and queue.snapshot is None
        shown = [row.reference for row in queue.table.rows]
        assert shown == [row.reference for row in head.rows]
        shown_text = screen_text(app)
        assert (
            head.rows[0].reference in shown_text
            and " ".join(head.rows[0].name.split())[:15] in shown_text
        )
        assert "opening the cache" in str(app.screen.query_one(StatusBar).render())
        # Moving works on the head; sorting waits for the cache.
        await pilot.press("j", "j", "s")
        assert queue.table.current_id == head.rows[2].id and queue.sort == "reference"

        await let_open(opening, queue, pilot)
        assert queue.snapshot is not None
        assert queue.table.current_id == head.rows[2].id  # the cursor stayed on its case
        assert len(queue.table.rows) == queue.snapshot.counts["all_open"] >= len(head.rows)
        assert "opening the cache" not in str(app.screen.query_one(StatusBar).render())


async def test_another_view_or_a_filter_waits_for_the_cache_the_head_is_the_start_view_only(
    data_dir: Path,
) -> None:
    head = kept_head(data_dir)
    async with opening_console(data_dir, head) as (app, pilot, opening):
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        await pilot.press("8")  # Closed: not in the head
        await pilot.pause()
        assert not queue.table.rows and "Opening the cache" in screen_text(app)
        await pilot.press("7")  # back on the start view
        await pilot.pause()
        assert [row.id for row in queue.table.rows] == [row.id for row in head.rows]
        digits = head.rows[1].reference[-6:]  # typed before the cache is open
        await pilot.press("slash", *digits)
        await pilot.pause()
        assert not queue.table.rows
        await let_open(opening, queue, pilot)
        assert queue.filter_query is not None and queue.filter_query.text == digits
        shown = [row.reference for row in queue.table.rows]
        assert head.rows[1].reference in shown and all(digits in ref for ref in shown)


async def test_enter_on_the_head_opens_that_case_once_the_cache_is_open(data_dir: Path) -> None:
    head = kept_head(data_dir)
    assert len(head.rows) > 3
    async with opening_console(data_dir, head) as (app, pilot, opening):
        await pilot.press("j", "j", "j", "enter")
        assert isinstance(app.screen, QueueScreen)  # nothing to open it from yet
        opening.go.set()
        await wait_until(lambda: isinstance(app.screen, CaseScreen), pilot)
        screen = app.screen
        assert isinstance(screen, CaseScreen) and screen.case_id == head.rows[3].id


async def test_without_a_head_the_queue_says_it_is_opening_then_shows_the_cache(
    data_dir: Path,
) -> None:
    (data_dir / HEAD_FILE).write_bytes(b'{"format": 1, "rows": "not rows"}')
    assert load_head(data_dir, view="all_open", now=system_clock()) is None
    async with opening_console(data_dir, None) as (app, pilot, opening):
        queue = app.screen
        assert isinstance(queue, QueueScreen) and not queue.table.rows
        assert "Opening the cache" in screen_text(app)
        opening.go.set()
        await wait_until(lambda: bool(queue.table.rows), pilot)


async def test_the_head_kept_is_the_start_views_first_rows_by_reference(data_dir: Path) -> None:
    store = LocalStore.open(data_dir)
    try:
        service = CaseService(profile_name="test", store=store, backend=None)
        snapshot = service.snapshot(sort="risk", reverse=True)  # sorted otherwise on screen
        head = load_head(data_dir, view="all_open", now=service.clock())
        assert head is not None
        expected = sorted(snapshot.view_rows("all_open"), key=lambda row: row.reference)
        assert [row.id for row in head.rows] == [row.id for row in expected[:HEAD_ROWS]]
        assert dict(head.counts) == snapshot.counts
        assert head.status.profile == "test" and head.status.user == (service.me() or _no()).name
        assert load_head(data_dir, view="mine", now=service.clock()) is None  # another view
        assert (data_dir / HEAD_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


async def test_a_failing_open_ends_the_console_saying_why(data_dir: Path) -> None:
    async def failing() -> CaseService:
        raise OSError("disk on fire")

    app = CasedeskApp(None, SETTINGS, opening=failing, head=None)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.return_code is not None, pilot)
    assert app.return_code == 1


def _no() -> Any:
    raise AssertionError("no current user in the cache")
