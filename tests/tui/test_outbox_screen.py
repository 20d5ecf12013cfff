"""The outbox screen (`O`), driven with Pilot against a server of its own."""

import io
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Static

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.actions import CommentAction, EscalateAction, UpdateEscalationAction
from casedesk.domain.enums import ActionType
from casedesk.server_process import ServerProcess, free_port, start_server
from casedesk.store.local import LocalStore
from casedesk.store.outbox_item import ItemError, ParkReason
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.forms.comment import CommentForm
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.help import HelpScreen
from casedesk.tui.screens.outbox import OutboxScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.confirm import ConfirmDialog
from casedesk.tui.widgets.outbox_dialogs import ItemDetailsDialog
from casedesk.tui.widgets.outbox_format import age, next_try, state_label
from casedesk.tui.widgets.outbox_table import OutboxTable

SIZE = (220, 50)  # wide enough for whole error messages in their column
ONE_TRY = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own: its tests reopen cases and add actions."""
    handle = start_server(tmp_path_factory.mktemp("outbox") / "data", demo_cases=20, seed=5)
    yield handle
    handle.stop()


def key_of(server: ServerProcess, roles: list[str]) -> str:
    return str(next(u for u in server.demo_users() if u["roles"] == roles)["api_key"])


@dataclass
class Desk:
    """A synced cache, the service over it (as cli.py wires them) and a plain HTTP client."""

    service: CaseService
    store: LocalStore
    http: httpx.Client
    clients: list[CaseApiClient]

    def app(self, service: CaseService | None = None) -> CasedeskApp:
        settings = ConsoleSettings(profile="test", sync_on_start=False)
        return CasedeskApp(service or self.service, settings)

    def offline(self) -> CaseService:
        """A service over the same cache whose API is a closed port."""
        client = CaseApiClient(f"http://127.0.0.1:{free_port()}", ApiKey("k"), retry=ONE_TRY)
        self.clients.append(client)
        return CaseService(profile_name="test", store=self.store, backend=client)

    def reference(self, status: str, index: int = 0) -> str:
        rows = [row for row in self.service.queue() if row.status.value == status]
        return rows[index].reference

    def effects(self, reference: str, action_type: str) -> int:
        """How many `action_type` entries the case's permanent action log holds."""
        answer = self.http.get(f"/v1/cases/{reference}/actions", params={"limit": 200})
        answer.raise_for_status()
        return sum(1 for entry in answer.json()["data"] if entry["type"] == action_type)

    def act_directly(self, reference: str, body: dict[str, Any]) -> None:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        self.http.post(f"/v1/cases/{reference}/actions", json=body, headers=headers)


@pytest.fixture
async def desk(server: ServerProcess, tmp_path: Path) -> AsyncIterator[Desk]:
    key = key_of(server, ["reviewer"])
    store = LocalStore.open(tmp_path / "data")
    client = CaseApiClient(server.base_url, ApiKey(key), retry=ONE_TRY)
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    http = httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key}, timeout=30)
    opened = Desk(service=service, store=store, http=http, clients=[client])
    yield opened
    http.close()
    for each in opened.clients:
        await each.aclose()
    store.close()


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def outbox_of(app: CasedeskApp) -> OutboxScreen:
    screen = app.screen
    assert isinstance(screen, OutboxScreen), type(screen).__name__
    return screen


def rendered(renderable: Any) -> str:
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def text_of(static: Static) -> str:
    return rendered(static.render())


def row_text(table: OutboxTable, index: int) -> list[str]:
    return [cell.plain for cell in table.get_row_at(index)]


def said(seen: list[Message]) -> list[str]:
    return [m.notification.message for m in seen if isinstance(m, Notify)]


# -- how an item is worded ------------------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _item(**fields: Any) -> Any:
    base = {"state": "queued", "attempts": 0, "next_attempt_at": None, "retry_after": None}
    return SimpleNamespace(**(base | fields))


@pytest.mark.parametrize(
    ("item", "said"),
    [
        (_item(), "now"),
        (_item(next_attempt_at=NOW - timedelta(seconds=3)), "now"),
        (_item(next_attempt_at=NOW + timedelta(seconds=40)), "in 40s"),
        (_item(next_attempt_at=NOW + timedelta(minutes=3)), "in 3m"),
        (
            _item(
                next_attempt_at=NOW + timedelta(seconds=90),
                retry_after=NOW + timedelta(seconds=120),
            ),
            "in 2m (Retry-After)",
        ),
        (_item(retry_after=NOW + timedelta(seconds=30)), "in 30s (Retry-After)"),
        (_item(state="sending"), "sending…"),
        (_item(state="parked"), "when you retry"),
    ],
)
def test_next_try_says_when_an_item_goes_out(item: Any, said: str) -> None:
    assert next_try(item, NOW) == said


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(2, "just now"), (40, "40s ago"), (180, "3m ago"), (7200, "2h ago"), (3 * 86_400, "3d ago")],
)
def test_age_is_short_and_relative(seconds: int, said: str) -> None:
    assert age(NOW - timedelta(seconds=seconds), NOW) == said


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("rejected", "parked: rejected"),
        ("conflict", "parked: conflict"),
        ("defect", "parked: defect"),
        ("needs_credentials", "parked: needs credentials"),
    ],
)
def test_a_parked_item_says_why(reason: str, said: str) -> None:
    assert state_label(_item(state="parked", park_reason=reason)) == said
    assert state_label(_item(state="sending")) == "pending"


# -- the list --------------------------------------------------------------------------


async def test_o_opens_the_outbox_listing_a_parked_rejection_with_its_message_and_field(
    desk: Desk,
) -> None:
    reference = desk.reference("open")
    update = UpdateEscalationAction.model_validate(
        {"type": "update_escalation", "escalations": [{"escalation_id": str(uuid.uuid4())}]}
    )
    queued = await desk.service.act(reference, update)
    assert not queued.sent
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        screen = outbox_of(app)
        assert screen.table.row_count == 1
        case, action, age, tries, next_try, state, fields, error = row_text(screen.table, 0)
        assert (case, action, tries, state) == (
            reference,
            "update escalation",
            "1",
            "parked: rejected",
        )
        assert age == "just now" and next_try == "when you retry"
        assert error.startswith("Escalation not found: ")
        assert fields == "escalations.0.escalation_id"
        assert "1 parked" in text_of(screen.query_one("#outbox-summary", Static))

        await pilot.press("enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ItemDetailsDialog)
        report = dialog.report.plain
        assert "HTTP 400 · escalation_not_found" in report
        assert "escalations.0.escalation_id: not an active escalation of this case" in report
        assert '"type": "update_escalation"' in report
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = rendered(help_screen.table)
        for key, what in (("r", "Retry now"), ("e", "Edit"), ("d", "Discard"), ("O", "Outbox")):
            assert re.search(rf"^{key} +{what}", keys, re.MULTILINE), keys
        assert re.search(r"^\S+ +Details", keys, re.MULTILINE), keys
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)


async def test_error_text_from_the_api_is_shown_literally(desk: Desk) -> None:
    item = (await desk.offline().act(desk.reference("open", 1), _comment("hello"))).item
    # What an API could answer: brackets that would be markup if anything parsed them.
    hostile = "[bold red]boom[/] [@click=app.quit]x[/]"
    desk.store.outbox.park(item.id, ParkReason.REJECTED, ItemError(code="x", message=hostile))
    app = desk.app(desk.offline())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        table = outbox_of(app).table
        assert row_text(table, 0)[7] == hostile
        await pilot.press("enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ItemDetailsDialog)
        assert hostile in dialog.report.plain
        assert app.is_running


# -- retry -----------------------------------------------------------------------------


async def test_retry_sends_a_parked_action_once_its_cause_is_gone(desk: Desk) -> None:
    reference = desk.reference("closed")
    before = desk.effects(reference, "escalate")
    queued = await desk.service.act(reference, _escalate("needs a second look"))
    assert not queued.sent and queued.item.park_reason == "rejected"
    app = desk.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        assert row_text(outbox_of(app).table, 0)[5] == "parked: rejected"
        desk.act_directly(reference, {"type": "reopen"})  # the cause goes away
        await pilot.press("r")
        await settle(pilot)
        assert outbox_of(app).table.row_count == 0
        assert any(m.endswith("sent.") for m in said(seen))
    assert desk.effects(reference, "escalate") == before + 1
    assert desk.service.outbox() == []


async def test_retry_parks_again_while_the_cause_remains(desk: Desk) -> None:
    reference = desk.reference("closed", 1)
    before = desk.effects(reference, "escalate")
    await desk.service.act(reference, _escalate("still closed"))
    app = desk.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("O", "r")
        await settle(pilot)
        table = outbox_of(app).table
        assert table.row_count == 1
        row = row_text(table, 0)
        assert row[3] == "2" and row[5] == "parked: rejected"
        assert row[7] == "The case is closed; the only action it takes is reopen."
        assert any("parked again: The case is closed" in m for m in said(seen))
    assert desk.effects(reference, "escalate") == before


# -- discard ---------------------------------------------------------------------------


async def test_discard_asks_first_then_removes_the_item_and_nothing_is_sent(
    desk: Desk,
) -> None:
    reference = desk.reference("in_progress", 2)
    before = desk.effects(reference, "comment")
    offline = desk.offline()
    queued = await offline.act(reference, _comment("never mind"))
    assert queued.item.state == "queued"
    app = desk.app(offline)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        assert row_text(outbox_of(app).table, 0)[5] == "pending"
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.question == f"Discard the comment on {reference}? It will not be sent."
        await pilot.press("n")
        await pilot.pause()
        assert outbox_of(app).table.row_count == 1
        await pilot.press("d", "y")
        await settle(pilot)
        assert outbox_of(app).table.row_count == 0
        assert "Nothing waiting" in text_of(outbox_of(app).query_one("#outbox-summary", Static))
    assert desk.service.outbox() == []
    await desk.service.sync()
    assert desk.effects(reference, "comment") == before


# -- keys ------------------------------------------------------------------------------


async def test_keys_follow_the_selected_item_and_edit_asks_the_forms(desk: Desk) -> None:
    offline = desk.offline()
    item = (await offline.act(desk.reference("in_progress", 3), _comment("queued"))).item
    app = desk.app(offline)
    seen: list[Message] = []

    def enabled() -> set[str | None]:
        return {b.binding.id for b in app.screen.active_bindings.values() if b.enabled}

    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await settle(pilot)
        # Queued after a failed attempt: it can be sent now or dropped, not edited.
        assert {"outbox.retry", "outbox.discard", "outbox.details", "outbox.back"} <= enabled()
        assert "outbox.edit" not in enabled()
        await pilot.press("e")
        assert not [m for m in seen if isinstance(m, OutboxScreen.EditRequested)]

        desk.store.outbox.park(item.id, ParkReason.REJECTED, ItemError(code="x", message="no"))
        outbox_of(app).reload()
        await pilot.pause()
        assert "outbox.edit" in enabled()
        await pilot.press("e")
        await pilot.pause()
        # One message (it bubbles from the screen to the app, where the forms pick it up).
        requested = {id(m): m for m in seen if isinstance(m, OutboxScreen.EditRequested)}
        assert len(requested) == 1
        assert next(iter(requested.values())).item.body["body"] == "queued"
        await settle(pilot)
        # The app reopens the item's own form on its case, with the text as it was queued.
        form = app.screen
        assert isinstance(form, CommentForm)
        assert form.fields["body"].value == "queued"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)


def _comment(body: str) -> CommentAction:
    return CommentAction(type=ActionType.COMMENT, body=body)


def _escalate(reason: str) -> EscalateAction:
    return EscalateAction(type=ActionType.ESCALATE, reason=reason)
