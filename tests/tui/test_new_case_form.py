"""The new-case form (`N` on the queue), driven with Pilot against a server of our own.

What is created is looked up on the server with plain HTTP, never counted as calls.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, TextArea

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.server_process import ServerProcess, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.forms.fields import FormField
from casedesk.tui.forms.new_case import FORM, NewCaseForm
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings

SIZE = (160, 50)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(tmp_path_factory.mktemp("new-case") / "data", demo_cases=10, seed=4)
    yield process
    process.stop()


def reviewer_key(server: ServerProcess) -> str:
    users = server.demo_users()
    org = users[0]["organization"]["id"]
    user = next(
        u for u in users if u["organization"]["id"] == org and set(u["roles"]) == {"reviewer"}
    )
    return str(user["api_key"])


@pytest.fixture
async def service(server: ServerProcess, tmp_path: Path) -> AsyncIterator[CaseService]:
    store = LocalStore.open(tmp_path / "data")
    client = CaseApiClient(
        server.base_url, ApiKey(reviewer_key(server)), retry=RetryPolicy(attempts=1)
    )
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    yield service
    await client.aclose()
    store.close()


def console(service: CaseService) -> CasedeskApp:
    return CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False))


def cases_named(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    with httpx.Client(
        base_url=server.base_url, headers={"X-API-KEY": reviewer_key(server)}, timeout=30
    ) as http:
        answer = http.get("/v1/cases", params={"q": name, "limit": 200})
    assert answer.status_code == 200, answer.text
    return [case for case in answer.json()["data"] if case["name"] == name]


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_form(pilot: Any) -> NewCaseForm:
    await settle(pilot)
    assert isinstance(pilot.app.screen, QueueScreen)
    await pilot.press("N")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, NewCaseForm), type(form).__name__
    return form


def put(form: NewCaseForm, path: str, text: str) -> None:
    editor = form.fields[path].editor
    if isinstance(editor, TextArea):
        editor.load_text(text)
    else:
        assert isinstance(editor, Input)
        editor.value = text


def error_of(form: NewCaseForm, path: str) -> str:
    shown: FormField = form.fields[path]
    return str(shown.error.render()) if shown.invalid else ""


def notes(seen: list[Message]) -> list[str]:
    said = [m.notification for m in seen if isinstance(m, Notify)]
    assert all(not n.markup for n in said)
    return [n.message for n in said]


async def test_a_blank_name_is_shown_under_the_name_and_nothing_is_queued(
    service: CaseService,
) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert error_of(form, "name") == "Required."
        put(form, "name", "   ")
        put(form, "companies.0.name", "Acme")
        put(form, "companies.0.country", "france")
        put(form, "individuals", "Ada; director")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert error_of(form, "name")
        assert "pattern" in error_of(form, "companies.0.country").casefold()
        assert "Line 1" in error_of(form, "individuals")
        assert "Required" in error_of(form, "companies.0.ref")
    assert service.outbox(include_done=True) == []


async def test_a_valid_case_is_created_on_the_server_with_its_company_and_individual(
    server: ServerProcess, service: CaseService
) -> None:
    name = f"Nordwind Holding {uuid.uuid4().hex[:6]}"
    queue = service.queues()[-1]
    app = console(service)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        form = await open_form(pilot)
        assert app.focused is form.fields["name"].editor
        await pilot.press(*"Nordwind")
        await pilot.press("tab")
        assert app.focused is form.fields["type"].editor
        put(form, "name", name)
        put(form, "type", "kyb")
        form.fields["queue_id"].set_value(str(queue.id))
        put(form, "external_id", f"ext-{uuid.uuid4().hex[:8]}")
        put(form, "tags", "urgent, new client")
        put(form, "metadata", "source=console\nchannel = phone\n")
        put(form, "companies.0.ref", "main")
        put(form, "companies.0.name", "Nordwind Holding GmbH")
        put(form, "companies.0.registration_number", "HRB 12345")
        put(form, "companies.0.country", "DE")
        put(form, "individuals", "Greta Lindqvist; shareholder, director; 40%\n")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        said = notes(seen)
        assert any(note.startswith("created") for note in said), said
    found = cases_named(server, name)
    assert len(found) == 1, found
    case = found[0]
    assert [c["name"] for c in case["companies"]] == ["Nordwind Holding GmbH"]
    people = case["individuals"]
    assert [(p["first_name"], p["last_name"]) for p in people] == [("Greta", "Lindqvist")]
    assert service.draft(None, FORM) is None


async def test_escape_keeps_the_draft_and_n_reopens_it(service: CaseService) -> None:
    app = console(service)
    async with app.run_test(size=SIZE) as pilot:
        form = await open_form(pilot)
        await pilot.press(*"Half typed")
        put(form, "individuals", "Ada Lovelace; director")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, QueueScreen)
        kept = service.draft(None, FORM)
        assert kept is not None and kept["name"] == "Half typed"
        again = await open_form(pilot)
        assert again.fields["name"].value == "Half typed"
        assert again.fields["individuals"].value == "Ada Lovelace; director"
        assert again.fields["status"].value == "open"
    assert service.outbox(include_done=True) == []
