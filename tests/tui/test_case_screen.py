"""The case screen, driven with Pilot against a real demo server and a real cache file."""

import gc
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from textual.message import Message
from textual.notifications import Notify
from textual.widget import Widget
from tuikit import screen_text

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.enums import ActionType
from casedesk.domain.people import User
from casedesk.domain.records import ActionLogEntry
from casedesk.server_process import ServerProcess, free_port, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_format import People, human_size, payload_summary
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.case_tabs import TABS, CaseTabs

SIZE = (160, 50)
HOSTILE = '[bold red]x[/] [link="https://evil.example"]click[/link] [@click=app.quit]y[/] [sic]'
HOSTILE_MORE = f"{HOSTILE} 🎉 Crème brûlée [/] :smile: [00]"
OFFLINE = RetryPolicy(attempts=1)


# -- fixtures --------------------------------------------------------------------------


@dataclass
class Desk:
    """A cache synced from a server, and the service over it (as cli.py wires them)."""

    store: LocalStore
    service: CaseService
    clients: list[CaseApiClient]

    def app(self, service: CaseService | None = None) -> CasedeskApp:
        settings = ConsoleSettings(profile="test", sync_on_start=False)
        return CasedeskApp(service or self.service, settings)

    def offline(self) -> CaseService:
        """A service over the same cache whose API is a closed port."""
        client = CaseApiClient(f"http://127.0.0.1:{free_port()}", ApiKey("k"), retry=OFFLINE)
        self.clients.append(client)
        return CaseService(profile_name="test", store=self.store, backend=client)


async def open_desk(tmp_path: Path, base_url: str, key: str) -> Desk:
    store = LocalStore.open(tmp_path / "data")
    client = CaseApiClient(base_url, ApiKey(key))
    service = CaseService(profile_name="test", store=store, backend=client)
    await service.sync()
    return Desk(store=store, service=service, clients=[client])


async def close_desk(desk: Desk) -> None:
    for client in desk.clients:
        await client.aclose()
    desk.store.close()


@pytest.fixture
async def desk(live_server: Any, tmp_path: Path) -> AsyncIterator[Desk]:
    opened = await open_desk(tmp_path, live_server.base_url, live_server.key("reviewer"))
    yield opened
    await close_desk(opened)


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of our own for tests that change cases (the shared one stays as seeded)."""
    data = tmp_path_factory.mktemp("own") / "data"
    server = start_server(data, demo_cases=3, seed=7)
    yield server
    server.stop()


# -- helpers ---------------------------------------------------------------------------


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def case_screen(app: CasedeskApp) -> CaseScreen:
    screen = app.screen
    assert isinstance(screen, CaseScreen), type(screen).__name__
    return screen


def queue_screen(app: CasedeskApp) -> QueueScreen:
    screen = app.screen
    assert isinstance(screen, QueueScreen), type(screen).__name__
    return screen


def rendered(widget: Widget) -> str:
    """What `widget` draws, as plain text at its width (styles dropped)."""
    console = Console(width=max(widget.size.width, 80), file=io.StringIO(), record=True)
    console.print(widget.render())
    return console.export_text()


def live_styles(widget: Widget) -> list[str]:
    """Links and click actions anywhere in what `widget` draws (there must be none)."""
    console = Console(width=max(widget.size.width, 80), file=io.StringIO())
    found = []
    for segment in console.render(widget.render()):
        style = segment.style
        if style is not None and (style.link or "@click" in (style.meta or {})):
            found.append(f"{segment.text!r}: {style!r}")
    return found


def body(app: CasedeskApp, key: str) -> str:
    return rendered(app.screen.query_one(f"#{key}-body", Widget))


def header(app: CasedeskApp) -> str:
    """The header's text, its runs of spaces as one (a long name may wrap)."""
    return " ".join(rendered(app.screen.query_one(CaseHeader)).split())


@dataclass
class Known:
    """A case and what the server says it holds (read over plain HTTP)."""

    row: Any
    messages: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    overrides: list[dict[str, Any]]


def full_case(service: CaseService, live_server: Any) -> Known:
    """A cached case with chat, escalations and overrides, the first by reference."""
    rows = sorted(service.store.cache.rows(), key=lambda row: row.reference)
    candidates = [r for r in rows if r.open_escalations_count or r.pending_override_id]
    with live_server.client(live_server.key("reviewer")) as http:
        for row in candidates:
            lists = [
                http.get(f"/v1/cases/{row.id}/{name}", params={"limit": 200}).json()["data"]
                for name in ("messages", "escalations", "overrides")
            ]
            if all(lists):
                return Known(row, *lists)
    raise AssertionError("the demo data has no case with chat, escalations and overrides")


# -- opening, tabs, walking --------------------------------------------------------------


async def test_enter_on_a_row_opens_the_case_with_its_reference_and_name(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = queue_screen(app).table.rows[0]
        await pilot.press("enter")
        await settle(pilot)
        top = header(app)
        assert row.reference in top
        assert row.name[:40] in top
        assert "fresh" in top


async def test_number_keys_switch_tabs_and_each_shows_its_case_content(
    desk: Desk, live_server: Any
) -> None:
    known = full_case(desk.service, live_server)
    row = known.row
    newest = max(known.messages, key=lambda m: m["created_at"])
    escalation = known.escalations[0]
    override = known.overrides[0]
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue_screen(app).open_case(row.id)
        await settle(pilot)
        tabs = app.screen.query_one(CaseTabs)
        assert tabs.active == "overview"
        assert row.queue_name in body(app, "overview")

        await pilot.press("2")
        await settle(pilot)
        assert tabs.active == "chat"
        assert newest["body"].splitlines()[0][:60] in body(app, "chat")
        chat = tabs.scroller("chat")
        assert chat.max_scroll_y == 0 or chat.scroll_y == chat.max_scroll_y  # the newest shows
        assert chat.has_focus

        await pilot.press("3")
        assert tabs.active == "escalations"
        assert escalation["title"][:60] in body(app, "escalations")
        await pilot.press("4")
        assert tabs.active == "overrides"
        assert override["reason"].splitlines()[0][:60] in body(app, "overrides")
        assert override["status"] in body(app, "overrides")
        await pilot.press("5")
        assert tabs.active == "activity"
        assert "create" in body(app, "activity")
        await pilot.press("1")
        assert tabs.active == "overview"
        labels = [str(tabs.get_tab(key).label) for key, _, _ in TABS]
        assert labels[1] == f"2 Chat ({len(known.messages)})"


async def test_n_and_p_walk_the_cases_of_the_view_and_escape_returns_to_the_last_one_seen(
    desk: Desk,
) -> None:
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue = queue_screen(app)
        rows = list(queue.table.rows)
        await pilot.press("down", "down", "enter")
        await settle(pilot)
        assert rows[2].reference in header(app)
        await pilot.press("2", "n")
        await settle(pilot)
        screen = case_screen(app)
        assert screen.case_id == rows[3].id
        assert rows[3].reference in header(app)
        assert screen.query_one(CaseTabs).active == "chat"  # the tab stays as chosen
        await pilot.press("p", "p")
        await settle(pilot)
        assert rows[1].reference in header(app)
        assert f"case 2 of {len(rows)}" in header(app)
        await pilot.press("escape")
        await settle(pilot)
        assert queue_screen(app) is queue
        # Like a mail reader: the queue resumes on the case the reviewer last looked at.
        assert queue.table.current_id == rows[1].id


async def test_p_does_nothing_on_the_first_case_and_n_on_the_last(desk: Desk) -> None:
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = queue_screen(app).table.rows
        await pilot.press("enter", "p")
        await settle(pilot)
        screen = case_screen(app)
        assert screen.index == 0
        assert screen.check_action("previous", ()) is None  # shown dimmed in the footer
        await pilot.press("escape", "G", "enter", "n")
        await settle(pilot)
        screen = case_screen(app)
        assert screen.index == len(rows) - 1
        assert rows[-1].reference in header(app)
        assert screen.check_action("next", ()) is None


# -- offline ---------------------------------------------------------------------------


async def test_offline_every_tab_of_a_cached_case_opens_and_a_never_fetched_one_says_so(
    desk: Desk, live_server: Any
) -> None:
    fetched = full_case(desk.service, live_server).row
    await desk.service.open_case(fetched.reference)  # its details are now in the cache
    never = next(
        row for row in desk.store.cache.rows() if not desk.service.case(row.reference).fetched
    )
    offline = desk.offline()
    app = desk.app(offline)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        queue_screen(app).open_case(fetched.id)
        await settle(pilot)
        assert offline.online is False
        assert "offline — cached" in header(app)
        for number, (key, _, _) in enumerate(TABS, start=1):
            await pilot.press(str(number))
            assert app.screen.query_one(CaseTabs).active == key
            text = body(app, key)
            assert text.strip() and "not fetched" not in text, key
        assert fetched.reference in header(app)

        await pilot.press("escape")
        queue_screen(app).open_case(never.id)
        await settle(pilot)
        assert "offline — details never fetched" in header(app)
        for what, key in [("Chat", "chat"), ("Escalations", "escalations")]:
            assert f"{what} not fetched yet — it will load when the API is reachable" in body(
                app, key
            )
        assert f"{never.queue_name}" in body(app, "overview")
        assert "Overrides not fetched yet" in body(app, "overrides")
        assert "Activity not fetched yet" in body(app, "activity")
        assert app.is_running


async def test_a_refused_key_is_said_and_the_cached_case_stays(
    desk: Desk, live_server: Any
) -> None:
    client = CaseApiClient(live_server.base_url, ApiKey("not-a-key"), retry=OFFLINE)
    desk.clients.append(client)
    refused = CaseService(profile_name="test", store=desk.store, backend=client)
    app = desk.app(refused)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
        row = queue_screen(app).table.rows[0]
        await pilot.press("enter")
        await settle(pilot)
        assert row.reference in header(app)
        assert "refreshing" not in header(app) and "loading" not in header(app)
        said = [m.notification for m in seen if isinstance(m, Notify)]
        assert any(n.message.startswith("Could not load the case's details") for n in said)
        assert all(not n.markup for n in said)
        assert app.is_running


# -- changes arriving ------------------------------------------------------------------


def reviewer_http(server: ServerProcess) -> httpx.Client:
    key = next(u["api_key"] for u in server.demo_users() if set(u["roles"]) == {"reviewer"})
    return httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key})


def post_action(http: httpx.Client, case_id: str, action: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(
        f"/v1/cases/{case_id}/actions",
        json=action,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"]["case"])


async def test_a_sync_while_the_case_is_open_repaints_it_and_the_chat_shows_the_newest(
    own_server: ServerProcess, tmp_path: Path
) -> None:
    with reviewer_http(own_server) as http:
        key = str(http.headers["X-API-KEY"])
        cases = http.get("/v1/cases", params={"limit": 50}).json()["data"]
    case = next(c for c in cases if c["status"] in ("open", "in_progress"))
    desk = await open_desk(tmp_path, own_server.base_url, key)
    try:
        app = desk.app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            queue_screen(app).open_case(uuid.UUID(case["id"]))
            await settle(pilot)
            await pilot.press("2")
            with reviewer_http(own_server) as http:
                for number in range(1, 31):
                    after = post_action(
                        http, case["id"], {"type": "comment", "body": f"note {number}"}
                    )
            app.action_sync()  # as the timer or `r` would: the app then says CacheChanged
            await settle(pilot)
            await settle(pilot)  # the screen re-fetches the details it now knows are stale
            assert f"Revision {after['revision']}" in header(app)
            assert "note 30" in body(app, "chat")
            chat = app.screen.query_one(CaseTabs).scroller("chat")
            assert chat.max_scroll_y > 0
            assert chat.scroll_y == chat.max_scroll_y
    finally:
        await close_desk(desk)


# -- untrusted text ------------------------------------------------------------------------


async def test_markup_in_names_and_chat_is_shown_literally_and_runs_nothing(
    own_server: ServerProcess, tmp_path: Path
) -> None:
    users = own_server.demo_users()
    key = next(u["api_key"] for u in users if set(u["roles"]) == {"reviewer"})
    with httpx.Client(base_url=own_server.base_url, headers={"X-API-KEY": key}) as http:
        me = http.get("/v1/me").json()["data"]
        created = http.post(
            "/v1/cases",
            json={
                "name": HOSTILE,
                "assignee_id": me["id"],
                "metadata": {"[b]note[/b]": HOSTILE},
                "tags": ["[red]pep[/]"],
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.text
        case = created.json()["data"]
        for action in (
            {"type": "comment", "body": HOSTILE_MORE},
            {"type": "escalate", "reason": HOSTILE},
            {"type": "request_override", "reason": HOSTILE, "proposed_decision": "approve",
             "reviewer_ids": []},
        ):  # fmt: skip
            answer = http.post(
                f"/v1/cases/{case['id']}/actions",
                json=action,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert answer.status_code == 201, answer.text

    desk = await open_desk(tmp_path, own_server.base_url, key)
    try:
        app = desk.app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            queue_screen(app).open_case(uuid.UUID(case["id"]))
            await settle(pilot)
            assert HOSTILE in header(app), header(app)
            assert HOSTILE in screen_text(app)
            assert HOSTILE in body(app, "overview")
            assert "[b]note[/b]" in body(app, "overview")
            assert "#[red]pep[/]" in body(app, "overview")
            await pilot.press("2")
            assert HOSTILE_MORE in body(app, "chat")
            await pilot.press("3")
            assert HOSTILE in body(app, "escalations")
            await pilot.press("4")
            assert HOSTILE in body(app, "overrides")
            await pilot.press("5")
            assert "[bold red]x[/]" in body(app, "activity")
            for widget in app.screen.query("CaseSection"):
                assert live_styles(widget) == [], widget.id
            await pilot.click(CaseHeader, offset=(40, 0))
            await pilot.press("2")
            await pilot.pause()
            assert app.is_running and app.return_code is None
    finally:
        await close_desk(desk)


# -- reading helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KB"), (14_540, "14.2 KB"), (3_565_158, "3.4 MB")],
)
def test_document_sizes_read_like_a_file_manager(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_the_activity_summary_names_people_not_ids_or_emails() -> None:
    me = User(
        id=uuid.uuid4(), name="Zoë", email="zoe@x.example", roles=[], organization_id=uuid.uuid4()
    )
    other = me.model_copy(update={"id": uuid.uuid4(), "name": "José", "email": "jose@x.example"})
    people = People([me, other], me)
    entry = ActionLogEntry(
        id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        type=ActionType.UPDATE_ESCALATION,
        actor_id=me.id,
        client_action_id=None,
        payload={
            "escalations": [
                {"escalation_id": "e", "note": "call back", "assigned_to_email": "JOSE@x.example"}
            ]
        },
        case_revision=3,
        created_at=datetime.now(UTC),
    )
    assert payload_summary(entry, people) == "1 escalation: note “call back”, to José"
    assign = entry.model_copy(
        update={"type": ActionType.ASSIGN, "payload": {"assignee_id": str(me.id)}}
    )
    assert payload_summary(assign, people) == "to Zoë (you)"
    unassign = entry.model_copy(
        update={"type": ActionType.ASSIGN, "payload": {"assignee_id": None}}
    )
    assert payload_summary(unassign, people) == "to nobody"


async def test_a_theme_changed_while_away_restyles_the_case_screen_shown_again(
    desk: Desk,
) -> None:
    """The reused case screen skips Textual's restyle only while the theme is unchanged."""
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        dark = case_screen(app).query_one(CaseHeader).get_component_rich_style("case--heading")
        await pilot.press("escape")
        await settle(pilot)
        app.theme = "textual-light"
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        screen = case_screen(app)
        light = screen.query_one(CaseHeader).get_component_rich_style("case--heading")
        assert light.color != dark.color
        assert screen.query_one(CaseHeader).visual_style.background == app.screen.styles.background


async def test_keys_leave_the_cyclic_gc_running_once_their_frames_are_out(desk: Desk) -> None:
    """Each key pauses the GC until its frame (so a collection never lands in between)."""
    app = desk.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for keys in (("j", "j", "k"), ("enter",), ("2", "n"), ("escape",), ("slash", "a")):
            await pilot.press(*keys)
            await settle(pilot)
            assert gc.isenabled(), f"GC left off after {keys}"
