"""The queue, driven with Pilot against a real demo server and a real cache file."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from casedesk.api.client import CaseApiClient
from casedesk.api.secret import ApiKey
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.screens.help import HelpScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_table import CaseTable
from casedesk.tui.widgets.filter_bar import FilterBar
from casedesk.tui.widgets.status_bar import StatusBar

SIZE = (160, 50)


@pytest.fixture
async def service(live_server: Any, tmp_path: Path) -> AsyncIterator[CaseService]:
    store = LocalStore.open(tmp_path / "data")
    client = CaseApiClient(live_server.base_url, ApiKey(live_server.key("reviewer")))
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    yield service
    await client.aclose()
    store.close()


def console(service: CaseService, **settings: Any) -> CasedeskApp:
    return CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False, **settings))


def queue_of(app: CasedeskApp) -> QueueScreen:
    screen = app.screen
    assert isinstance(screen, QueueScreen)
    return screen


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_queue_opens_on_all_open_cases_with_view_counts(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = queue_of(app)
        rows = queue.table.rows
        assert rows and all(row.status.value != "closed" for row in rows)
        assert queue.snapshot is not None
        assert len(rows) == queue.snapshot.counts["all_open"]
        assert str(queue.query_one("#closed").label).endswith(
            f"{queue.snapshot.counts['closed']:,}"
        )


async def test_number_keys_switch_views(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("8")
        queue = queue_of(app)
        assert queue.view == "closed"
        assert queue.table.rows and all(r.status.value == "closed" for r in queue.table.rows)
        await pilot.press("2")
        assert all(r.assignee_id is None for r in queue.table.rows)
        await pilot.press("1")
        me = service.me()
        assert me is not None
        assert all(r.assignee_id == me.id for r in queue.table.rows)


async def test_typing_a_filter_narrows_the_rows_and_a_bad_one_keeps_the_last_result(
    service: CaseService,
) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"risk:high")
        await pilot.pause()
        queue = queue_of(app)
        high = list(queue.table.rows)
        assert high and all(row.risk_tier.value == "high" for row in high)
        # Pasted in one go: while typing, "colour" alone is a valid free-text term.
        queue.query_one(FilterBar).input.value = "risk:high colour:red"
        await pilot.pause()
        error = queue.query_one("#filter-error")
        assert "unknown field 'colour'" in str(error.render())
        assert queue.query_one(FilterBar).has_class("-invalid")
        assert list(queue.table.rows) == high
        await pilot.press("escape")
        await pilot.pause()
        assert queue.table.has_focus
        assert len(queue.table.rows) > len(high)


async def test_filter_completion_suggests_field_names_and_values(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"sta")
        await pilot.pause()
        field = queue_of(app).query_one(FilterBar).input
        assert field._suggestion == "status:"
        await pilot.press("right", *"in_")
        await pilot.pause()
        assert field._suggestion == "status:in_progress"


async def test_sort_cycles_columns_and_reverses(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = queue_of(app)
        await pilot.press("s")  # reference -> name
        await pilot.press("s", "s", "s")  # -> status, risk, sla
        assert queue.sort == "sla"
        deadlines = [row.sla_deadline for row in queue.table.rows]
        assert deadlines == sorted(deadlines)
        await pilot.press("S")
        deadlines = [row.sla_deadline for row in queue.table.rows]
        assert deadlines == sorted(deadlines, reverse=True)
        assert queue.table.sort_key == "sla" and queue.table.sort_reverse


async def test_keys_move_the_cursor_and_space_marks_rows(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = queue_of(app).query_one(CaseTable)
        await pilot.press("j", "j", "down")
        assert table.cursor == 3
        await pilot.press("k")
        assert table.cursor == 2
        await pilot.press("G")
        assert table.cursor == len(table.rows) - 1
        await pilot.press("g", "space", "space")
        assert len(table.marked) == 2
        assert app.screen.query_one(StatusBar).marked == 2
        await pilot.press("pagedown")
        assert table.cursor > 2


async def test_help_lists_the_keys_of_the_queue(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        listed = str(app.screen.table.columns[1]._cells)
        for description in ("Filter", "Sort", "Mark", "Open", "Sync"):
            assert description in listed
        await pilot.press("escape")
        assert isinstance(app.screen, QueueScreen)


async def test_the_status_bar_shows_profile_user_online_and_outbox(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(StatusBar)
        me = service.me()
        assert me is not None
        assert bar.profile == "test" and bar.user == me.name
        assert bar.online is True
        assert bar.last_sync is not None
        assert bar.pending == 0


async def test_r_syncs_in_the_background_and_a_dead_api_turns_the_bar_offline(
    live_server: Any, tmp_path: Path
) -> None:
    store = LocalStore.open(tmp_path / "data")
    good = CaseApiClient(live_server.base_url, ApiKey(live_server.key("reviewer")))
    await CaseService(profile_name="t", store=store, backend=good).sync()
    await good.aclose()
    dead = CaseApiClient("http://127.0.0.1:9", ApiKey(live_server.key("reviewer")))
    service = CaseService(profile_name="t", store=store, backend=dead)
    app = console(service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            rows_before = len(queue_of(app).table.rows)
            await pilot.press("r")
            await settle(pilot)
            assert app.screen.query_one(StatusBar).online is False
            assert len(queue_of(app).table.rows) == rows_before > 0
    finally:
        await dead.aclose()
        store.close()


async def test_reading_a_case_chat_clears_its_unread_flag(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = queue_of(app)
        assert queue.snapshot is not None
        unread = queue.snapshot.context.unread
        index = next(i for i, row in enumerate(queue.table.rows) if row.id in unread)
        case_id = queue.table.rows[index].id
        queue.table.set_cursor(index)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("2")  # the chat tab: the reviewer has seen it
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        queue = queue_of(app)
        assert queue.snapshot is not None
        assert case_id not in queue.snapshot.context.unread
        assert queue.table.current_id == case_id
