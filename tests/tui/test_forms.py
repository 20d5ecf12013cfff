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
from textual.widgets import TextArea

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.server_process import ServerProcess, free_port, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.fields import FormField
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_header import CaseHeader

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

    def http(self, roles: set[str] | None = None) -> httpx.Client:
        key = self.key(roles or {"reviewer"})
        return httpx.Client(base_url=self.base_url, headers={"X-API-KEY": key}, timeout=30)

    def post(self, path: str, body: dict[str, Any], roles: set[str] | None = None) -> Any:
        with self.http(roles) as http:
            answer = http.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert answer.status_code == 201, answer.text
        return answer.json()["data"]

    def get(self, path: str, roles: set[str] | None = None) -> Any:
        with self.http(roles) as http:
            answer = http.get(path, params={"limit": 200})
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


def footer_keys(screen: CaseScreen) -> set[str]:
    """Every action the screen offers now (what the footer and `?` show)."""
    return {
        active.binding.action
        for active in screen.active_bindings.values()
        if active.enabled and active.binding.id and active.binding.id.startswith("case.")
    }


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
