"""Bulk actions on the queue's marked rows, driven with Pilot against a server of its own."""

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Static, TextArea

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain import limits
from casedesk.domain.enums import Decision
from casedesk.server_process import ServerProcess, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.screens.bulk import BulkCloseDialog, BulkTextDialog
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.confirm import ConfirmDialog

SIZE = (160, 50)
BULK_IDS = {"queue.bulk_assign", "queue.bulk_escalate", "queue.bulk_comment", "queue.bulk_close"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own: its tests assign, escalate, comment and close."""
    handle = start_server(tmp_path_factory.mktemp("bulk") / "data", demo_cases=20, seed=5)
    yield handle
    handle.stop()


@dataclass
class Desk:
    service: CaseService
    store: LocalStore
    http: httpx.Client
    client: CaseApiClient

    def app(self) -> CasedeskApp:
        return CasedeskApp(self.service, ConsoleSettings(profile="test", sync_on_start=False))

    def effects(self, reference: str, action_type: str) -> int:
        """How many `action_type` entries the case's permanent action log holds."""
        answer = self.http.get(f"/v1/cases/{reference}/actions", params={"limit": 200})
        answer.raise_for_status()
        return sum(1 for entry in answer.json()["data"] if entry["type"] == action_type)

    def outbox_items(self, action_type: str) -> list[Any]:
        return [i for i in self.service.outbox(include_done=True) if i.type == action_type]


async def open_desk(server: ServerProcess, tmp_path: Path, roles: list[str]) -> Desk:
    key = str(next(u for u in server.demo_users() if u["roles"] == roles)["api_key"])
    store = LocalStore.open(tmp_path / f"data-{uuid.uuid4().hex[:6]}")
    client = CaseApiClient(server.base_url, ApiKey(key), retry=RetryPolicy(attempts=1))
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    http = httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key}, timeout=30)
    return Desk(service=service, store=store, http=http, client=client)


async def close_desk(desk: Desk) -> None:
    desk.http.close()
    await desk.client.aclose()
    desk.store.close()


@pytest.fixture
async def reviewer(server: ServerProcess, tmp_path: Path) -> AsyncIterator[Desk]:
    desk = await open_desk(server, tmp_path, ["reviewer"])
    yield desk
    await close_desk(desk)


@pytest.fixture
async def contributor(server: ServerProcess, tmp_path: Path) -> AsyncIterator[Desk]:
    desk = await open_desk(server, tmp_path, ["contributor"])
    yield desk
    await close_desk(desk)


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def queue_of(app: CasedeskApp) -> QueueScreen:
    screen = app.screen
    assert isinstance(screen, QueueScreen), type(screen).__name__
    return screen


async def mark(pilot: Any, *positions: int) -> list[str]:
    """Mark the rows at `positions` of the current view; their references."""
    table = queue_of(pilot.app).table
    marked = []
    for position in positions:
        table.set_cursor(position)
        marked.append(table.rows[position].reference)
        await pilot.press("space")
    return marked


def said(seen: list[Message]) -> list[str]:
    return [m.notification.message for m in seen if isinstance(m, Notify)]


def offered(app: CasedeskApp) -> set[str]:
    return {b.binding.id or "" for b in app.screen.active_bindings.values()} & BULK_IDS


# -- assign ----------------------------------------------------------------------------


async def test_bulk_assign_to_me_of_three_marked_rows_makes_three_effects(
    reviewer: Desk,
) -> None:
    app = reviewer.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        assert offered(app) == set()  # nothing marked: no bulk keys
        await pilot.press("a")
        await settle(pilot)
        assert reviewer.outbox_items("assign") == []

        me = reviewer.service.me()
        assert me is not None
        rows = queue_of(app).table.rows
        others = [i for i, row in enumerate(rows) if row.assignee_id != me.id][:3]
        references = await mark(pilot, *others)
        assert offered(app) == BULK_IDS
        before = {ref: reviewer.effects(ref, "assign") for ref in references}
        await pilot.press("a")
        await settle(pilot)
        assert queue_of(app).table.marked == set()
        assert offered(app) == set()
        assert "Queued 3 of 3. All sent." in said(seen)

    for reference in references:
        assert reviewer.effects(reference, "assign") == before[reference] + 1
    items = reviewer.outbox_items("assign")
    assert sorted(item.case_reference for item in items) == sorted(references)
    assert all(item.state == "done" for item in items)
    for reference in references:
        case = reviewer.http.get(f"/v1/cases/{reference}").json()["data"]
        assert case["assignee"]["id"] == str(me.id)


# -- role refused ----------------------------------------------------------------------


async def test_bulk_close_as_a_contributor_refuses_every_case_with_the_reason(
    contributor: Desk,
) -> None:
    app = contributor.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        references = sorted(await mark(pilot, 3, 4))
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)  # no dialog: there is nothing to close
        reasons = ", ".join(f"{ref} (you may not close: reviewer only)" for ref in references)
        assert f"Queued 0 of 2: refused {reasons}." in said(seen)
        assert len(queue_of(app).table.marked) == 2  # kept: another action may still apply
    assert contributor.service.outbox(include_done=True) == []
    for reference in references:
        assert contributor.effects(reference, "close") == 0


# -- mixed selection -------------------------------------------------------------------


async def test_bulk_escalate_of_a_mixed_selection_says_which_case_was_refused(
    reviewer: Desk,
) -> None:
    app = reviewer.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        open_refs = await mark(pilot, 5, 6)
        await pilot.press("8")  # Closed
        (closed_ref,) = await mark(pilot, 0)
        before = {ref: reviewer.effects(ref, "escalate") for ref in [*open_refs, closed_ref]}
        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkTextDialog)
        hint = dialog.query_one(".dialog-hint", Static).render()
        assert f"refused {closed_ref} (closed)" in str(hint)

        await pilot.press("ctrl+s")  # an empty reason is refused before anything is queued
        await pilot.pause()
        assert app.screen is dialog
        assert "Reason:" in str(dialog.query_one("#bulk-error", Static).render())

        await pilot.press(*"KYB review")
        await pilot.pause()
        assert str(dialog.query_one("#bulk-counter", Static).render()) == (
            f"10/{limits.ESCALATE_REASON_MAX}"
        )
        dialog.query_one(TextArea).text = "x" * (limits.ESCALATE_REASON_MAX + 1)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and dialog.query_one("#bulk-counter").has_class("-over")
        dialog.query_one(TextArea).text = "KYB review needed"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        assert f"Queued 2 of 3: refused {closed_ref} (closed). All sent." in said(seen)

    for reference in open_refs:
        assert reviewer.effects(reference, "escalate") == before[reference] + 1
    assert reviewer.effects(closed_ref, "escalate") == before[closed_ref]
    items = reviewer.outbox_items("escalate")
    assert sorted(i.case_reference for i in items) == sorted(open_refs)
    assert {i.body["reason"] for i in items} == {"KYB review needed"}
    assert len({i.client_action_id for i in items}) == 2


# -- comment and close -----------------------------------------------------------------


async def test_bulk_comment_queues_one_comment_per_case(reviewer: Desk) -> None:
    app = reviewer.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        references = await mark(pilot, 7, 8)
        before = {ref: reviewer.effects(ref, "comment") for ref in references}
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, BulkTextDialog)
        await pilot.press(*"[b]Seen[/b] by QA", "ctrl+s")
        await settle(pilot)
        assert "Queued 2 of 2. All sent." in said(seen)
    for reference in references:
        assert reviewer.effects(reference, "comment") == before[reference] + 1
    bodies = {i.body["body"] for i in reviewer.outbox_items("comment")}
    assert bodies == {"[b]Seen[/b] by QA"}


async def test_bulk_close_asks_for_one_decision_and_confirms_the_count(reviewer: Desk) -> None:
    app = reviewer.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("1")  # My cases: assigned to me, so closing them is mine to do
        references = await mark(pilot, 0, 1)
        await pilot.press("x")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkCloseDialog)
        await pilot.press("ctrl+s")  # no decision picked yet
        await pilot.pause()
        assert app.screen is dialog
        assert "Decision: pick one." in str(dialog.query_one("#bulk-error", Static).render())
        dialog.choose(Decision.REJECT)
        await pilot.press("ctrl+s")
        await pilot.pause()
        confirm = app.screen
        assert isinstance(confirm, ConfirmDialog)
        assert confirm.question.startswith('Close 2 cases with decision "reject"?')
        await pilot.press("y")
        await settle(pilot)
        assert "Queued 2 of 2. All sent." in said(seen)
    for reference in references:
        case = reviewer.http.get(f"/v1/cases/{reference}").json()["data"]
        assert (case["status"], case["decision"]) == ("closed", "reject")
        assert reviewer.effects(reference, "close") == 1
