"""The action forms of the case screen, driven with Pilot against a real server of our own.

Every test that changes a case creates its own case (plain HTTP), so tests never
see each other's effects; effects are counted on the server, never as calls.
"""

import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.message import Message
from textual.notifications import Notify
from textual.widget import Widget
from textual.widgets import Input, SelectionList, TextArea
from textual.widgets.selection_list import Selection

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain import limits
from casedesk.domain.actions import EscalateAction, UpdateEscalationAction
from casedesk.domain.enums import ActionType
from casedesk.server_process import ServerProcess, free_port, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.commands import CaseCommands
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.fields import FormField
from casedesk.tui.forms.files import FilePicker
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.help import HelpScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.confirm import ConfirmDialog

SIZE = (160, 50)
OFFLINE = RetryPolicy(attempts=1)


# -- a server and desks of our own -------------------------------------------------------


@dataclass
class Server:
    process: ServerProcess

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def user(self, roles: set[str]) -> dict[str, Any]:
        users = self.process.demo_users()
        org = users[0]["organization"]["id"]
        return next(u for u in users if u["organization"]["id"] == org and set(u["roles"]) == roles)

    def key(self, roles: set[str]) -> str:
        return str(self.user(roles)["api_key"])

    def user_id(self, roles: set[str]) -> str:
        return str(self.get("/v1/me", roles)["id"])

    def http(self, roles: set[str] | None = None) -> httpx.Client:
        key = self.key(roles or {"reviewer"})
        return httpx.Client(base_url=self.base_url, headers={"X-API-KEY": key}, timeout=30)

    def post(self, path: str, body: dict[str, Any], roles: set[str] | None = None) -> Any:
        with self.http(roles) as http:
            answer = http.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]

    def get(self, path: str, roles: set[str] | None = None) -> Any:
        # Only the case lists and a case's records are paged (any other route refuses `limit`).
        paged = path == "/v1/cases" or path.count("/") == 4
        with self.http(roles) as http:
            answer = http.get(path, params={"limit": 200} if paged else None)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def new_case(self, name: str) -> dict[str, Any]:
        """A fresh open case, unassigned, for one test alone."""
        return dict(self.post("/v1/cases", {"name": f"{name} {uuid.uuid4().hex[:6]}"}))

    def actions(self, case_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The case's permanent action log on the server (`create` included)."""
        entries = self.get(f"/v1/cases/{case_id}/actions")
        return [e for e in entries if kind is None or e["type"] == kind]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("forms") / "data"
    process = start_server(data, demo_cases=20, seed=3)
    yield Server(process)
    process.stop()


REVIEWER = {"reviewer"}
CONTRIBUTOR = {"contributor"}


@dataclass
class Desk:
    """A synced local store of one user, and the console over it (as cli.py wires them)."""

    data_dir: Path
    store: LocalStore
    service: CaseService
    clients: list[CaseApiClient] = field(default_factory=list)

    def app(self) -> CasedeskApp:
        return CasedeskApp(self.service, ConsoleSettings(profile="test", sync_on_start=False))

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        self.store.close()


async def open_desk(data_dir: Path, base_url: str, key: str, *, sync: bool = True) -> Desk:
    store = LocalStore.open(data_dir)
    client = CaseApiClient(base_url, ApiKey(key), retry=OFFLINE)
    service = CaseService(profile_name="test", store=store, backend=client)
    if sync:
        await service.sync()
    return Desk(data_dir, store, service, [client])


DeskFactory = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def desks(server: Server, tmp_path: Path) -> AsyncIterator[DeskFactory]:
    """Open desks as a user (`roles`), online or on a closed port; all closed at the end."""
    opened: list[Desk] = []

    async def make(
        roles: set[str] = REVIEWER, *, offline: bool = False, name: str = "data"
    ) -> Desk:
        url = f"http://127.0.0.1:{free_port()}" if offline else server.base_url
        if offline:  # the cache comes from a sync while online; then the API goes away
            online = await open_desk(tmp_path / name, server.base_url, server.key(roles))
            await online.close()
            desk = await open_desk(tmp_path / name, url, server.key(roles), sync=False)
        else:
            desk = await open_desk(tmp_path / name, url, server.key(roles))
        opened.append(desk)
        return desk

    yield make
    for desk in opened:
        if not desk.store.drafts._closed:
            await desk.close()


# -- driving the console -----------------------------------------------------------------


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_case(pilot: Any, case_id: str) -> CaseScreen:
    await settle(pilot)
    queue = pilot.app.screen
    assert isinstance(queue, QueueScreen), type(queue).__name__
    queue.open_case(uuid.UUID(case_id))
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CaseScreen)
    return screen


def case_screen(app: CasedeskApp) -> CaseScreen:
    screen = app.screen
    assert isinstance(screen, CaseScreen), type(screen).__name__
    return screen


def form(app: CasedeskApp) -> ActionForm:
    screen = app.screen
    assert isinstance(screen, ActionForm), type(screen).__name__
    return screen


def field(app: CasedeskApp, path: str) -> FormField:
    return form(app).fields[path]


def error_of(app: CasedeskApp, path: str) -> str:
    shown = field(app, path)
    return str(shown.error.render()) if shown.invalid else ""


def set_text(app: CasedeskApp, path: str, text: str) -> None:
    """Put `text` in a field at once (typing ten thousand characters would take minutes)."""
    editor = field(app, path).editor
    assert isinstance(editor, TextArea)
    editor.load_text(text)


def notes(seen: list[Message]) -> list[str]:
    said = [m.notification for m in seen if isinstance(m, Notify)]
    assert all(not n.markup for n in said)
    return [n.message for n in said]


def rendered(widget: Widget) -> str:
    """What `widget` draws, as plain text at its width (styles dropped)."""
    console = Console(width=max(widget.size.width, 80), file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


def header(app: CasedeskApp) -> str:
    return " ".join(rendered(app.screen.query_one(CaseHeader)).split())


def tab(app: CasedeskApp, key: str) -> str:
    return rendered(app.screen.query_one(f"#{key}-body", Widget))


ACTIONS = {kind.value for kind in ActionType} | {"assign_me", "correct"}
"""The case screen's action bindings, by id (`case.close` → `close`)."""


def footer_keys(screen: CaseScreen) -> set[str]:
    """Every action the screen offers now (what the footer, `?` and the palette show)."""
    return {
        active.binding.id.removeprefix("case.")
        for active in screen.active_bindings.values()
        if active.enabled and active.binding.id and active.binding.id.startswith("case.")
    } & ACTIONS


# -- comment -------------------------------------------------------------------------------


async def test_a_comment_typed_and_sent_lands_on_the_server_and_in_the_chat(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Comment happy")
    desk = await desks()
    app = desk.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c")
        assert case["reference"] in str(form(app).title_content())
        await pilot.press(*"Looks fine", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        comments = server.actions(case["id"], "comment")
        assert [c["payload"]["body"] for c in comments] == ["Looks fine"]
        assert any(n.endswith(": sent.") for n in notes(seen))
        await pilot.press("2")
        assert "Looks fine" in tab(app, "chat")
        assert "pending" not in tab(app, "chat")


async def test_a_blank_or_too_long_comment_is_named_under_its_field_and_nothing_is_queued(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Comment invalid")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "body") == "Required."
        await pilot.press("space", "space", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "body") == "Must not be blank."
        too_long = limits.COMMENT_BODY_MAX + 1
        set_text(app, "body", "x" * too_long)
        await pilot.pause()
        counter = field(app, "body").counter
        assert str(counter.render()) == f"{too_long}/{limits.COMMENT_BODY_MAX}"
        assert counter.has_class("-over")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "body").startswith(f"Too long: {too_long} characters")
        assert not form(app).submitted  # the form stays open and editable
        assert desk.service.case_outbox(uuid.UUID(case["id"])) == []
    assert server.actions(case["id"], "comment") == []


def attach(app: CasedeskApp) -> FilePicker:
    picker = field(app, "document_ids").editor
    assert isinstance(picker, FilePicker)
    return picker


async def test_files_picked_by_path_with_completion_are_uploaded_with_the_comment(
    server: Server, desks: DeskFactory, tmp_path: Path
) -> None:
    case = server.new_case("Comment files")
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "passport-front.jpg").write_bytes(b"front" * 200)
    (folder / "passport-back.jpg").write_bytes(b"back" * 200)
    (folder / "kbis [2026].pdf").write_bytes(b"%PDF kbis")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c", *"Two files", "tab")
        assert attach(app).input.has_focus
        await pilot.press(*f"{folder}/pa", "tab")  # completes as far as the names agree
        assert attach(app).input.value == f"{folder}/passport-"
        await pilot.press("b", "tab")
        assert attach(app).input.value == f"{folder}/passport-back.jpg"
        await pilot.press("enter", *f"{folder}/k", "tab", "enter")
        assert attach(app).paths == [f"{folder}/passport-back.jpg", f"{folder}/kbis [2026].pdf"]
        assert "kbis [2026].pdf" in rendered(attach(app).chosen_line)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("2")
        chat = tab(app, "chat")
        assert "passport-back.jpg" in chat and "kbis [2026].pdf" in chat
    [entry] = server.actions(case["id"], "comment")
    [message] = [
        m for m in server.get(f"/v1/cases/{case['id']}/messages") if m["body"] == "Two files"
    ]
    assert [d["name"] for d in message["documents"]] == ["passport-back.jpg", "kbis [2026].pdf"]
    assert entry["payload"]["document_ids"] == [d["id"] for d in message["documents"]]
    with server.http() as http:
        content = http.get(f"/v1/documents/{message['documents'][1]['id']}/content").content
    assert content == b"%PDF kbis"


async def test_a_missing_too_large_or_unattached_file_is_named_and_nothing_is_queued(
    server: Server, desks: DeskFactory, tmp_path: Path
) -> None:
    case = server.new_case("Comment bad files")
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as out:  # sparse: the size without the bytes
        out.truncate(limits.DOCUMENT_MAX_BYTES + 1)
    fine = tmp_path / "fine.txt"
    fine.write_text("fine")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c", *"Files", "tab", *f"{tmp_path}/nope.pdf", "enter")
        assert error_of(app, "document_ids") == f"{tmp_path}/nope.pdf: no such file."
        assert attach(app).paths == []
        attach(app).input.value = str(huge)
        await pilot.press("enter")
        assert f"limited to {limits.DOCUMENT_MAX_BYTES:,} bytes" in error_of(app, "document_ids")
        attach(app).input.value = str(fine)
        await pilot.press("enter")
        assert error_of(app, "document_ids") == "" and attach(app).paths == [str(fine)]
        attach(app).input.value = str(tmp_path)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "typed but not attached" in error_of(app, "document_ids")
        attach(app).input.value = ""
        fine.unlink()  # attached, then moved away before the submit
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "document_ids") == f"{fine}: no such file."
        assert not form(app).submitted
        assert desk.service.case_outbox(uuid.UUID(case["id"])) == []
    assert server.actions(case["id"], "comment") == []


# -- escalate ------------------------------------------------------------------------------


async def test_escalating_to_a_person_picked_by_part_of_their_name(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Escalate happy")
    target = next(
        u for u in server.process.demo_users() if u["email"].startswith("ingrid.halvorsen")
    )
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("e", *"KYB docs", "tab", *"halv", "enter")
        assert str(field(app, "reason").counter.render()) == f"8/{limits.ESCALATE_REASON_MAX}"
        picked = field(app, "escalate_to").value
        assert isinstance(picked, list) and len(picked) == 1
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("3")
        assert "KYB docs" in tab(app, "escalations")
    escalations = server.get(f"/v1/cases/{case['id']}/escalations")
    assert len(escalations) == 1
    assert escalations[0]["reason"] == "KYB docs"
    [entry] = server.actions(case["id"], "escalate")
    assert entry["payload"]["escalate_to"] == picked[0]
    assert target["name"] in {u.name for u in desk.service.users() if str(u.id) == picked[0]}


async def test_escalate_names_a_blank_reason_a_too_long_one_and_a_person_never_picked(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Escalate invalid")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("e", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "reason") == "Required."
        set_text(app, "reason", "r" * (limits.ESCALATE_REASON_MAX + 1))
        await pilot.press("tab", *"nobody-at-all", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "escalate_to").startswith("No one picked for “nobody-at-all”")
        await pilot.press("ctrl+a", "ctrl+k")  # empty the person field: the reason is next
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "reason").startswith("Too long")
        assert error_of(app, "escalate_to") == ""
        assert isinstance(app.screen, ActionForm)
    assert server.actions(case["id"], "escalate") == []


# -- close ---------------------------------------------------------------------------------


async def test_closing_asks_a_confirmation_naming_the_case_then_closes_it_on_the_server(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Close happy")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("x", "down", "enter", "tab", *"All clear", "ctrl+s")
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmDialog)
        question = str(confirm.question)
        assert case["reference"] in question and case["name"] in question
        assert "reject" in question
        await pilot.press("n")  # back to the form, nothing queued, still editable
        await settle(pilot)
        assert not form(app).submitted
        assert desk.service.case_outbox(uuid.UUID(case["id"])) == []
        await pilot.press("ctrl+s", "y")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert "closed" in header(app).casefold()
    closed = server.get(f"/v1/cases/{case['id']}")
    assert (closed["status"], closed["decision"]) == ("closed", "reject")
    [entry] = server.actions(case["id"], "close")
    assert entry["payload"]["comment"] == "All clear"


async def test_close_without_a_decision_or_with_a_too_long_comment_is_refused_by_the_form(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Close invalid")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("x")
        set_text(app, "comment", "c" * (limits.DECISION_COMMENT_MAX + 1))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "decision") == "Required."
        assert error_of(app, "comment").startswith("Too long")
        assert isinstance(app.screen, ActionForm)  # no confirmation for an invalid form
    assert server.actions(case["id"], "close") == []


# -- overrides and roles -------------------------------------------------------------------


async def test_an_override_requested_by_a_contributor_is_refused_by_the_reviewer_it_names(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Override")
    zoe = server.user_id(REVIEWER)
    contributor = await desks(CONTRIBUTOR, name="contributor")
    app = contributor.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        assert "close" not in footer_keys(screen)  # a contributor sees no close
        await pilot.press("x")
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("o", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "reason") == "Required."
        assert error_of(app, "proposed_decision") == "Required."
        await pilot.press(*"Docs are fine", "tab", "enter", "tab", *"zo", "enter", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        offered = footer_keys(case_screen(app))
        assert "cancel_override" in offered  # its creator may cancel it, not decide it
        assert not {"accept_override", "refuse_override"} & offered
    [override] = server.get(f"/v1/cases/{case['id']}/overrides")
    assert override["status"] == "pending"
    assert override["proposed_decision"] == "approve"
    assert override["reviewer_ids"] == [zoe]

    reviewer = await desks(REVIEWER, name="reviewer")
    app = reviewer.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        offered = footer_keys(screen)
        assert {"accept_override", "refuse_override"} <= offered
        assert "cancel_override" not in offered
        assert "close" not in offered  # a pending override holds the decision
        await pilot.press("R")
        assert "Docs are fine" in str(app.screen.query_one("#form-intro").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "comment") == "Required."  # refusing needs a reason
        await pilot.press(*"Missing UBO", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    [override] = server.get(f"/v1/cases/{case['id']}/overrides")
    assert (override["status"], override["decision_comment"]) == ("refused", "Missing UBO")


async def test_the_creator_cancels_an_override_after_confirming(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Override cancel")
    server.post(
        f"/v1/cases/{case['id']}/actions",
        {"type": "request_override", "reason": "why not", "proposed_decision": "reject"},
        CONTRIBUTOR,
    )
    desk = await desks(CONTRIBUTOR)
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("X")
        assert "why not" in str(app.screen.query_one("#form-intro").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    [override] = server.get(f"/v1/cases/{case['id']}/overrides")
    assert override["status"] == "cancelled"


async def test_a_closed_case_offers_only_reopen_to_a_reviewer_and_nothing_to_a_contributor(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Closed")
    server.post(f"/v1/cases/{case['id']}/actions", {"type": "close", "decision": "none"})
    for roles, wanted in ((REVIEWER, {"reopen"}), (CONTRIBUTOR, set())):
        desk = await desks(roles, name="-".join(sorted(roles)))
        app = desk.app()
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, case["id"])
            assert footer_keys(screen) == wanted
        await desk.close()


# -- offline, replay, parked -----------------------------------------------------------------


async def test_offline_a_comment_and_a_close_are_queued_shown_pending_and_replayed_once(
    server: Server, desks: DeskFactory, tmp_path: Path
) -> None:
    chatty, closing = server.new_case("Offline chat"), server.new_case("Offline close")
    ticket = tmp_path / "train-ticket.pdf"
    ticket.write_bytes(b"%PDF ticket")
    desk = await desks(offline=True)
    app = desk.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await open_case(pilot, chatty["id"])
        await pilot.press("c", *"Written on a train", "tab", *str(ticket), "enter", "ctrl+s")
        await settle(pilot)
        assert any(n.endswith("queued — will be sent when online.") for n in notes(seen))
        assert "1 in the tabs" in header(app)
        await pilot.press("2")
        chat = tab(app, "chat")
        assert "Written on a train" in chat and "pending" in chat
        assert "train-ticket.pdf" in chat
        ticket.unlink()  # the copy queued with the comment is what will be sent
        await pilot.press("escape")
        await open_case(pilot, closing["id"])
        await pilot.press("x", "enter", "ctrl+s", "y")
        await settle(pilot)
        assert "Pending close · decision: approve (pending)" in header(app)
    for case, kind in ((chatty, "comment"), (closing, "close")):
        [pending] = desk.service.case_outbox(uuid.UUID(case["id"]))
        assert (pending.action.type, pending.parked) == (kind, False)
        assert server.actions(case["id"], kind) == []
    await desk.close()

    online = await open_desk(desk.data_dir, server.base_url, server.key(REVIEWER), sync=False)
    try:
        await online.service.sync()
        await online.service.sync()  # a second replay changes nothing
        assert online.service.outbox() == []
    finally:
        await online.close()
    assert len(server.actions(chatty["id"], "comment")) == 1
    assert len(server.actions(closing["id"], "close")) == 1
    [message] = [
        m
        for m in server.get(f"/v1/cases/{chatty['id']}/messages")
        if m["body"] == "Written on a train"
    ]
    assert [d["name"] for d in message["documents"]] == ["train-ticket.pdf"]


async def test_an_action_the_api_refuses_is_shown_parked_with_its_reason(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Parked")
    desk = await desks(offline=True)
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("x", "enter", "ctrl+s", "y")
        await settle(pilot)
    await desk.close()
    # Meanwhile someone else acts: the close was decided on a revision that is gone.
    server.post(f"/v1/cases/{case['id']}/actions", {"type": "comment", "body": "news"})
    online = await open_desk(desk.data_dir, server.base_url, server.key(REVIEWER), sync=False)
    try:
        app = online.app()
        async with app.run_test(size=SIZE) as pilot:
            await open_case(pilot, case["id"])
            app.action_sync()
            await settle(pilot)
            await settle(pilot)
            [parked] = online.service.case_outbox(uuid.UUID(case["id"]))
            assert parked.parked and parked.reason
            assert f"(parked: {parked.reason}" in header(app)
    finally:
        await online.close()
    assert server.actions(case["id"], "close") == []


async def test_a_refused_action_is_corrected_in_its_form_with_the_api_error_and_resent(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Correct")
    desk = await desks()
    gone = uuid.uuid4()  # someone who left the organization since the last sync
    stale = EscalateAction.model_validate(
        {"type": "escalate", "reason": "Second opinion", "escalate_to": str(gone)}
    )
    queued = await desk.service.act(case["id"], stale)
    assert queued.item.park_reason is not None
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        assert "correct" in footer_keys(screen)
        assert "1 in the tabs, 1 parked (E to correct)" in header(app)
        await pilot.press("3")
        assert f"parked: escalate_to: no user {gone}" in tab(app, "escalations")
        await pilot.press("E")
        assert "Correct a refused action" in str(form(app).title_content())
        assert field(app, "reason").value == "Second opinion"
        assert str(gone) in error_of(app, "escalate_to")
        await pilot.press("tab", *"Halv", "enter", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert "correct" not in footer_keys(screen)
    assert desk.service.case_outbox(uuid.UUID(case["id"])) == []
    [entry] = server.actions(case["id"], "escalate")
    assert entry["payload"]["reason"] == "Second opinion"
    assert entry["payload"]["escalate_to"] != str(gone)


# -- drafts and double submit ----------------------------------------------------------------


async def test_a_draft_survives_escape_and_a_restart_and_goes_once_the_comment_is_sent(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Draft")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c", *"half a thought", "escape")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("c")
        assert field(app, "body").value == "half a thought"
        await pilot.press("escape")
        await settle(pilot)
    await desk.close()

    again = await open_desk(desk.data_dir, server.base_url, server.key(REVIEWER), sync=False)
    try:
        app = again.app()
        async with app.run_test(size=SIZE) as pilot:
            await open_case(pilot, case["id"])
            await pilot.press("c")
            assert field(app, "body").value == "half a thought"
            await pilot.press(*", finished", "ctrl+s")
            await settle(pilot)
            await pilot.press("c")
            assert field(app, "body").value == ""  # sent: the draft is gone
            await pilot.press("escape")
            await settle(pilot)
        assert again.service.draft(uuid.UUID(case["id"]), "comment") is None
    finally:
        await again.close()
    [comment] = server.actions(case["id"], "comment")
    assert comment["payload"]["body"] == "half a thought, finished"


async def test_text_typed_just_before_quitting_is_kept(server: Server, desks: DeskFactory) -> None:
    case = server.new_case("Quit")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("e", *"typed in a hurry", "ctrl+q")  # quicker than the draft delay
        await pilot.pause()
    assert desk.service.draft(uuid.UUID(case["id"]), "escalate") == {
        "reason": "typed in a hurry",
        "escalate_to": [],
    }


async def test_a_double_submit_queues_and_sends_once(server: Server, desks: DeskFactory) -> None:
    case = server.new_case("Double")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("c", *"only once", "ctrl+s", "ctrl+s", "enter")
        await settle(pilot)
        await pilot.press("e", *"once too")
        button = app.screen.query_one("#form-submit")
        await pilot.click(button)
        await pilot.click(button)
        await settle(pilot)
    items = [
        item for item in desk.service.outbox(include_done=True) if str(item.case_id) == case["id"]
    ]
    assert sorted(item.type for item in items) == ["comment", "escalate"]
    assert len(server.actions(case["id"], "comment")) == 1
    assert len(server.actions(case["id"], "escalate")) == 1


async def test_assign_to_me_needs_no_form_and_a_notification_confirms_it(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Assign")
    desk = await desks()
    app = desk.app()
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        screen = await open_case(pilot, case["id"])
        await pilot.press("a")
        await settle(pilot)
        assert any(n == f"Assign on {case['reference']}: sent." for n in notes(seen))
        assert screen.check_action("assign_me", ()) is None  # already mine: dimmed
    me = server.user_id(REVIEWER)
    assert server.get(f"/v1/cases/{case['id']}")["assignee"]["id"] == me


# -- update and complete escalations ----------------------------------------------------------


def escalated_case(server: Server, name: str, reasons: list[str]) -> dict[str, Any]:
    case = server.new_case(name)
    for reason in reasons:
        server.post(f"/v1/cases/{case['id']}/actions", {"type": "escalate", "reason": reason})
    return case


async def test_several_marked_escalations_get_one_note_follow_up_and_assignee(
    server: Server, desks: DeskFactory
) -> None:
    case = escalated_case(server, "Update", ["first look", "second look"])
    ingrid = next(u for u in server.process.demo_users() if u["name"].startswith("Ingrid"))
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        assert "update_escalation" not in footer_keys(screen)  # a key of the Escalations tab
        await pilot.press("3")
        assert {"update_escalation", "complete_escalation"} <= footer_keys(screen)
        await pilot.press("u", "space", "down", "space", "tab", *"Chased the bank", "tab")
        await pilot.press(*"2099-01-02 09:30", "enter", *"halv", "enter", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    escalations = server.get(f"/v1/cases/{case['id']}/escalations")
    assert len(escalations) == 2
    for escalation in escalations:
        assert escalation["note"] == "Chased the bank"
        assert escalation["follow_up_due_at"].startswith("2099-01-0")
    users = {u.email: u.id for u in desk.service.users()}
    assert {e["assigned_to_user_id"] for e in escalations} == {str(users[ingrid["email"]])}
    [entry] = server.actions(case["id"], "update_escalation")
    assert len(entry["payload"]["escalations"]) == 2


async def test_an_update_names_an_unmarked_list_a_bad_date_and_a_past_one(
    server: Server, desks: DeskFactory
) -> None:
    case = escalated_case(server, "Update invalid", ["one", "two"])
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("3", "u", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "escalations") == "Mark at least one escalation (Space)."
        await pilot.press("space", "tab", "tab", *"next tuesday", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "escalations") == ""
        assert error_of(app, "follow_up_due_at").startswith("Not a date and time: write it as")
        editor = field(app, "follow_up_due_at").editor
        assert isinstance(editor, Input)
        editor.value = "2001-01-01 10:00"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert (
            error_of(app, "follow_up_due_at") == "In the past: a follow-up is due later than now."
        )
    assert server.actions(case["id"], "update_escalation") == []


async def test_escalation_not_found_offers_the_active_escalations_the_api_returned(
    server: Server, desks: DeskFactory
) -> None:
    case = escalated_case(server, "Not found", ["done meanwhile", "still open"])
    desk = await desks()
    escalations = server.get(f"/v1/cases/{case['id']}/escalations")
    done = next(e for e in escalations if e["reason"] == "done meanwhile")
    still = next(e for e in escalations if e["reason"] == "still open")
    server.post(
        f"/v1/cases/{case['id']}/actions",
        {"type": "complete_escalation", "escalation_id": done["id"]},
    )
    stale = UpdateEscalationAction.model_validate(
        {"type": "update_escalation", "escalations": [{"escalation_id": done["id"], "note": "n"}]}
    )
    queued = await desk.service.act(case["id"], stale)
    assert queued.item.park_reason is not None
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("E")
        offered = field(app, "escalations").editor
        assert isinstance(offered, SelectionList)
        assert [o.value for o in offered.options if isinstance(o, Selection)] == [still["id"]]
        assert "The API lists the escalations that are active now" in str(
            app.screen.query_one("#form-intro").render()
        )
        assert error_of(app, "escalations")  # the API's words, under the list
        assert field(app, "note").value == "n"
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    notes_now = {e["id"]: e["note"] for e in server.get(f"/v1/cases/{case['id']}/escalations")}
    assert notes_now[still["id"]] == "n"
    assert notes_now[done["id"]] != "n"
    assert desk.service.case_outbox(uuid.UUID(case["id"])) == []


async def test_completing_the_only_active_escalation_from_its_tab(
    server: Server, desks: DeskFactory
) -> None:
    case = escalated_case(server, "Complete", ["needs a second pair of eyes"])
    desk = await desks(CONTRIBUTOR)
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("C")
        assert isinstance(app.screen, CaseScreen)  # only on the Escalations tab
        await pilot.press("3", "C")
        assert isinstance(field(app, "escalation_id").value, str)  # the only one, chosen
        await pilot.press("tab", *"Checked", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    [escalation] = server.get(f"/v1/cases/{case['id']}/escalations")
    assert escalation["is_completed"]
    [entry] = server.actions(case["id"], "complete_escalation")
    assert entry["payload"]["note"] == "Checked"


# -- query, resume, reopen, assign, accept -------------------------------------------------------


async def test_a_query_pauses_the_case_and_resume_brings_it_back(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Query")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        assert "resume" not in footer_keys(screen)
        await pilot.press("q", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "prompt") == "Required."
        set_text(app, "prompt", "p" * (limits.QUERY_PROMPT_MAX + 1))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert error_of(app, "prompt").startswith("Too long")
        set_text(app, "prompt", "Please send the register extract")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert server.get(f"/v1/cases/{case['id']}")["status"] == "querying"
        offered = footer_keys(case_screen(app))
        assert "resume" in offered and "query" not in offered
        await pilot.press("s", *"Got it", "ctrl+s")
        await settle(pilot)
    assert server.get(f"/v1/cases/{case['id']}")["status"] == "in_progress"
    [resumed] = server.actions(case["id"], "resume")
    assert resumed["payload"]["comment"] == "Got it"


async def test_a_reviewer_reopens_a_closed_case(server: Server, desks: DeskFactory) -> None:
    case = server.new_case("Reopen")
    server.post(f"/v1/cases/{case['id']}/actions", {"type": "close", "decision": "approve"})
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("ctrl+o", "ctrl+s")  # the comment may stay empty
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    assert server.get(f"/v1/cases/{case['id']}")["status"] == "open"


async def test_at_assigns_to_a_person_picked_by_email(server: Server, desks: DeskFactory) -> None:
    case = server.new_case("Assign pick")
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("@", "ctrl+s")
        await settle(pilot)
        assert error_of(app, "assignee_id").startswith("Required")
        await pilot.press(*"lukasz.woj", "enter", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert "Łukasz Wójcik" in header(app)
    assert server.get(f"/v1/cases/{case['id']}")["assignee"]["name"] == "Łukasz Wójcik"


async def test_a_reviewer_accepts_an_override_and_it_decides_the_case(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Accept")
    server.post(
        f"/v1/cases/{case['id']}/actions",
        {"type": "request_override", "reason": "clean file", "proposed_decision": "approve"},
        CONTRIBUTOR,
    )
    desk = await desks()
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await open_case(pilot, case["id"])
        await pilot.press("A", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        # The accepted proposal decided the case: only reopening is left to offer.
        assert footer_keys(case_screen(app)) == {"reopen"}
    [override] = server.get(f"/v1/cases/{case['id']}/overrides")
    assert override["status"] == "accepted"
    closed = server.get(f"/v1/cases/{case['id']}")
    assert (closed["status"], closed["decision"]) == ("closed", "approve")


async def test_help_and_palette_offer_only_what_the_user_may_do(
    server: Server, desks: DeskFactory
) -> None:
    case = server.new_case("Help")
    desk = await desks(CONTRIBUTOR)
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_case(pilot, case["id"])
        palette = CaseCommands(screen)
        found = [str(hit.text) async for hit in palette.search("o")]
        assert "Comment" in found and "Request override" in found
        assert "Close case" not in found and "Reopen" not in found
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        console = Console(width=120, file=io.StringIO(), record=True)
        console.print(help_screen.table)
        keys = console.export_text()
        assert "Comment" in keys and "Escalate" in keys
        assert "Close case" not in keys and "Assign to me" not in keys
