"""Server text is shown literally everywhere the console shows it, and nothing in it is live.

The markup corpus of the console issue is written to a server of this module's
own (case names, chat messages, escalation reasons and notes), synced, and
read back from what the console draws: the rendered strips, with their styles.
For each widget: the literal characters are visible, no segment carries a link
or an `@click` action, no ESC or BEL reaches the screen, and clicking on the
text leaves the app running.
"""

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len, set_cell_size
from textual.app import App, ComposeResult
from textual.command import CommandList
from textual.geometry import Region
from textual.message import Message
from textual.notifications import Notify
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from casedesk.api.client import CaseApiClient
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.clock import frozen_clock
from casedesk.domain.limits import CASE_NAME_MAX
from casedesk.server_process import ServerProcess, start_server
from casedesk.store.local import LocalStore
from casedesk.sync.service import CaseService
from casedesk.tui.app import CasedeskApp
from casedesk.tui.commands import CaseCommands
from casedesk.tui.screens.case import CaseScreen
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.case_table import CaseTable
from casedesk.tui.widgets.status_bar import StatusBar

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SIZE = (160, 50)
ONE_TRY = RetryPolicy(attempts=1)
LONG = ("lorem [ipsum] dolor [/] sit [b]amet[/b] " * 60)[:2000]
U = "\ufffd"  # what the API client turns ESC, BEL and the other controls into


@dataclass(frozen=True)
class Sample:
    """One entry of the corpus: what the server is sent, and what a reviewer must read."""

    key: str
    sent: str
    shown: str


CORPUS: tuple[Sample, ...] = (
    Sample("style", "[bold red]x[/]", "[bold red]x[/]"),
    Sample("link", '[link="https://evil.example"]click[/link]', '[link="https://evil.example"]click[/link]'),
    Sample("click", "[@click=app.quit]y[/]", "[@click=app.quit]y[/]"),
    Sample("lowercase-tag", "[sic]", "[sic]"),
    Sample("osc-title", "\x1b]0;pwned\x07", f"{U}]0;pwned{U}"),
    Sample("lone-bracket", "[", "["),
    Sample("close-all", "[/]", "[/]"),
    Sample("long-line", LONG, LONG),
    Sample("emoji", "🎉 ✅ 🚀 Crème brûlée", "🎉 ✅ 🚀 Crème brûlée"),
    Sample("rtl", "שלום עולם مرحبا بالعالم", "שלום עולם مرحبا بالعالم"),
)  # fmt: skip
SAMPLES = {sample.key: sample for sample in CORPUS}
TAB_NAME = "Tabbed\tHolding AG"


def case_name(index: int, text: str) -> str:
    """`HostileNN <text>`, cut to the API's limit (`leNN` finds it in the palette)."""
    return f"Hostile{index:02d} {text}"[:CASE_NAME_MAX]


# -- the server, the cache, the console --------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """A case created with a sample in its name, chat and escalation."""

    id: uuid.UUID
    reference: str
    marker: str
    name: str
    """The name as the console must show it."""


@dataclass(frozen=True)
class Hostile:
    base_url: str
    key: str
    cache: Path
    cases: dict[str, Planted]


def _post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["data"])


def _plant(server: ServerProcess, key: str) -> dict[str, Planted]:
    planted: dict[str, Planted] = {}
    with httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key}, timeout=30) as http:
        for index, sample in enumerate(CORPUS):
            case = _post(http, "/v1/cases", {"name": case_name(index, sample.sent)})
            actions = f"/v1/cases/{case['id']}/actions"
            _post(http, actions, {"type": "comment", "body": sample.sent})
            _post(http, actions, {"type": "escalate", "reason": sample.sent})
            escalation = http.get(f"/v1/cases/{case['id']}/escalations").json()["data"][0]
            update = {"escalation_id": escalation["id"], "note": sample.sent}
            _post(http, actions, {"type": "update_escalation", "escalations": [update]})
            planted[sample.key] = Planted(
                id=uuid.UUID(case["id"]),
                reference=case["reference"],
                marker=f"le{index:02d}",
                name=case_name(index, sample.shown),
            )
        tabbed = _post(http, "/v1/cases", {"name": TAB_NAME})
        planted["tab"] = Planted(uuid.UUID(tabbed["id"]), tabbed["reference"], "tabbed", TAB_NAME)
    return planted


async def _fill_cache(data: Path, base_url: str, key: str) -> None:
    store = LocalStore.open(data, clock=frozen_clock(NOW))
    client = CaseApiClient(base_url, ApiKey(key))
    try:
        await CaseService(
            profile_name="test", store=store, backend=client, clock=frozen_clock(NOW)
        ).sync()
    finally:
        await client.aclose()
        store.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """A small server holding the corpus, and a cache synced from it (copied by each test)."""
    root = tmp_path_factory.mktemp("untrusted")
    with (root / "server.log").open("wb") as log:
        server = start_server(
            root / "server",
            "--frozen-now",
            NOW.strftime("%Y-%m-%dT%H:%M:%S%z"),
            demo_cases=1,
            seed=3,
            log=log,
        )
        try:
            key = next(u["api_key"] for u in server.demo_users() if u["roles"] == ["reviewer"])
            cases = _plant(server, key)
            asyncio.run(_fill_cache(root / "cache", server.base_url, key))
            yield Hostile(server.base_url, key, root / "cache", cases)
        finally:
            server.stop()


@pytest.fixture
async def console(hostile: Hostile, tmp_path: Path) -> AsyncIterator[Callable[..., CasedeskApp]]:
    """`console(transport=None)`: the app over a copy of the cache, as cli.py wires it."""
    opened: list[tuple[CaseApiClient, LocalStore]] = []

    def build(transport: httpx.AsyncBaseTransport | None = None) -> CasedeskApp:
        data = tmp_path / f"cache-{len(opened)}"
        shutil.copytree(hostile.cache, data)
        store = LocalStore.open(data, clock=frozen_clock(NOW))
        client = CaseApiClient(
            hostile.base_url, ApiKey(hostile.key), transport=transport, retry=ONE_TRY
        )
        opened.append((client, store))
        service = CaseService(
            profile_name="test", store=store, backend=client, clock=frozen_clock(NOW)
        )
        app = CasedeskApp(service, ConsoleSettings(profile="test", sync_on_start=False))
        app.animation_level = "none"  # no tab underline slides to wait for after each key
        return app

    yield build
    for client, store in opened:
        await client.aclose()
        store.close()


# -- reading the screen ------------------------------------------------------------------


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_strips(app: App[Any]) -> list[Strip]:
    """Every line of the screen as the terminal would get it (segments with their styles).

    The compositor is private, but it is the only place that has the composed screen with
    its styles: an SVG screenshot has already dropped links and click actions.
    """
    return list(app.screen._compositor.render_strips())


def widget_strips(widget: Widget) -> list[Strip]:
    """Every line of `widget`'s content (inside border and padding), in view or not."""
    gutter = widget.styles.gutter
    width, height = widget.size
    lines = widget.render_lines(Region(0, gutter.top, gutter.left + width, height))
    return [strip.crop(gutter.left, gutter.left + width) for strip in lines]


def live_segments(strips: Sequence[Strip]) -> list[str]:
    """Segments that would be a link, run an action, or carry ESC/BEL to the terminal."""
    found = []
    for y, strip in enumerate(strips):
        for segment in strip:
            style = segment.style
            if "\x1b" in segment.text or "\x07" in segment.text:
                found.append(f"line {y}: control character in {segment.text!r}")
            if style is not None and style.link:
                found.append(f"line {y}: link {style.link!r} on {segment.text!r}")
            if style is not None and "@click" in (style.meta or {}):
                found.append(f"line {y}: action {style.meta['@click']!r} on {segment.text!r}")
    return found


def assert_inert(app: App[Any]) -> None:
    assert live_segments(screen_strips(app)) == []


def shows(strips: Sequence[Strip], text: str) -> bool:
    """`text` is on one line, or (wrapped) every word of it is, in order, one after another."""
    lines = [strip.text for strip in strips]
    if any(text in line for line in lines):
        return True
    words, seen = text.split(), " ".join(lines).split()
    if not words:
        return False
    for start in range(len(seen) - len(words) + 1):
        if seen[start] == words[0]:
            # Columns to the right (a header's sync state) may sit between two wrapped lines.
            it = iter(seen[start + 1 :])
            if all(any(word == got for got in it) for word in words[1:]):
                return True
    return False


def flat(strips: Sequence[Strip]) -> str:
    """The lines joined with their white space dropped (for text wrapped in one column)."""
    return "".join("".join(strip.text for strip in strips).split())


def position(app: App[Any], text: str, widget: Widget) -> tuple[int, int]:
    """Screen cell where `text` (or its first 20 characters, if wrapped) starts in `widget`."""
    probe = text[:20]
    area = widget.region.intersection(app.screen.region)
    strips = screen_strips(app)
    for y in range(area.y, area.bottom):
        line = strips[y].crop(area.x, area.right).text
        if probe in line:
            return area.x + cell_len(line[: line.index(probe)]), y
    shown = "\n".join(strips[y].text.rstrip() for y in range(area.y, area.bottom))
    raise AssertionError(f"{probe!r} is not in {widget!r}:\n{shown}")


async def click_text(pilot: Any, text: str, widget: Widget) -> None:
    """Click on `text` where `widget` shows it; the console must keep running."""
    app = pilot.app
    await pilot.click(offset=position(app, text, widget))
    await pilot.pause()
    assert app.is_running and app.return_code is None, f"clicking {text[:20]!r} ended the app"


def queue_of(app: App[Any]) -> QueueScreen:
    assert isinstance(app.screen, QueueScreen), type(app.screen).__name__
    return app.screen


def case_of(app: App[Any]) -> CaseScreen:
    assert isinstance(app.screen, CaseScreen), type(app.screen).__name__
    return app.screen


# -- every widget, every sample -----------------------------------------------------------


@pytest.mark.parametrize("key", [sample.key for sample in CORPUS])
async def test_server_text_is_literal_in_every_widget_and_clicking_it_runs_nothing(
    console: Callable[..., CasedeskApp], hostile: Hostile, key: str
) -> None:
    sample, case = SAMPLES[key], hostile.cases[key]
    app = console()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)

        # The queue row: the name's first cells, clipped with an ellipsis when too long.
        table = queue_of(app).table
        index = next(i for i, row in enumerate(table.rows) if row.id == case.id)
        assert index < table.size.height - 1  # every planted case fits on the screen
        row_line = table.render_line(index + 1)
        assert case.name[:50] in row_line.text, row_line.text
        if cell_len(case.name) > 60:
            assert "…" in row_line.text
        assert live_segments([row_line]) == []
        assert_inert(app)
        await click_text(pilot, case.name[:50], table)  # a single click only moves the cursor
        assert table.current_id == case.id

        # The case header.
        await pilot.press("enter")
        await settle(pilot)
        assert case_of(app).case_id == case.id
        header = app.screen.query_one(CaseHeader)
        assert shows(widget_strips(header), f"{case.reference}  {case.name}")
        assert_inert(app)
        await click_text(pilot, case.name, header)

        # The chat tab: the message body.
        await pilot.press("2")
        await settle(pilot)
        chat = widget_strips(app.screen.query_one("#chat-body", Widget))
        assert shows(chat, sample.shown) and "".join(sample.shown.split()) in flat(chat)
        assert_inert(app)
        await click_text(pilot, sample.shown, app.screen.query_one("#chat-scroll", Widget))

        # The escalations tab: the title (first line of the reason, as the API titles it),
        # the reason when it says more than the title, and the note.
        await pilot.press("3")
        await settle(pilot)
        escalations = widget_strips(app.screen.query_one("#escalations-body", Widget))
        title = sample.shown.strip().splitlines()[0][:80]
        texts = [strip.text for strip in escalations]
        assert any(line.lstrip().startswith(f"▲ active  {title}") for line in texts), texts
        labels = ["Note"] if title == sample.shown.strip() else ["Reason", "Note"]
        for label in labels:
            assert any(
                line.lstrip().startswith(label) and sample.shown[:40] in line for line in texts
            ), (label, texts)
        assert shows(escalations, sample.shown)
        assert_inert(app)
        await click_text(pilot, title, app.screen.query_one("#escalations-scroll", Widget))
        assert case_of(app).case_id == case.id

        # The command palette: the hit reads the literal name; clicking it opens the case.
        await pilot.press("escape", "ctrl+p", *case.marker)
        await settle(pilot)
        hits = app.screen.query_one(CommandList)
        assert shows(widget_strips(hits), f"{case.reference}  {case.name}")
        assert_inert(app)
        await click_text(pilot, f"{case.reference}  {case.name}", hits)
        await settle(pilot)
        assert case_of(app).case_id == case.id
        assert_inert(app)


# -- notifications and the status bar ------------------------------------------------------

NOTICE_SENT = "[bold red]x[/] [@click=app.quit]y[/] [sic] [/] [ \x1b]0;pwned\x07"
NOTICE_SHOWN = f"[bold red]x[/] [@click=app.quit]y[/] [sic] [/] [ {U}]0;pwned{U}"


def refusing_api(request: httpx.Request) -> httpx.Response:
    """An API that refuses every request with a hostile message (as a proxy or fork might)."""
    error = {"code": "unauthorized", "message": NOTICE_SENT, "details": []}
    return httpx.Response(401, json={"error": error, "meta": {"request_id": "req-1"}})


async def test_notifications_and_the_status_bar_show_server_messages_literally(
    console: Callable[..., CasedeskApp],
) -> None:
    app = console(transport=httpx.MockTransport(refusing_api))
    seen: list[Message] = []
    async with app.run_test(size=SIZE, notifications=True, message_hook=seen.append) as pilot:
        await settle(pilot)

        # A sync the API refuses: the bar says why, in the server's words.
        await pilot.press("r")
        await settle(pilot)
        bar = app.screen.query_one(StatusBar)
        assert NOTICE_SHOWN in widget_strips(bar)[0].text
        assert_inert(app)
        await click_text(pilot, NOTICE_SHOWN, bar)

        # The app's own notification in the queue: the sort (it would cover the bar's note).
        await pilot.press("s")
        await pilot.pause()
        toasts = app.screen.query("Toast")
        assert any(shows(widget_strips(t), "sorted by name ascending") for t in toasts)
        assert_inert(app)

        # Opening a case the API refuses: the toast says why, in the server's words.
        await pilot.press("enter")
        await settle(pilot)
        await pilot.pause(0.1)
        toast = next(t for t in app.screen.query("Toast") if "Could" in flat(widget_strips(t)))
        assert "".join(NOTICE_SHOWN.split()) in flat(widget_strips(toast))
        assert_inert(app)
        await click_text(pilot, "Could not load", toast)

    notified = [m.notification for m in seen if isinstance(m, Notify)]
    assert len(notified) >= 2 and all(not n.markup for n in notified)


class BarApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_the_status_bar_shows_a_user_name_and_a_note_literally() -> None:
    app = BarApp()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(StatusBar)
        bar.profile, bar.online = "demo", True
        for sample in CORPUS:
            text = sample.shown[:40]
            bar.user, bar.note = text, text
            await pilot.pause()
            line = widget_strips(bar)[0]
            assert line.text.count(text) == 2, (sample.key, line.text)
            assert live_segments([line]) == []
            await click_text(pilot, text, bar)


# -- the queue table, property-based ------------------------------------------------------


class Status(Enum):
    OPEN = "open"


def queue_row(name: str, queue_name: str = "KYC") -> SimpleNamespace:
    """What `CaseTable` and the palette read from a queue row."""
    return SimpleNamespace(
        id=uuid.uuid4(),
        reference="CAS-000001",
        name=name,
        status=Status.OPEN,
        risk_tier="low",
        risk_score=10,
        sla_deadline=NOW + timedelta(hours=5),
        sla_status="on_track",
        assignee_name="Zoë",
        queue_name=queue_name,
        updated_at=NOW,
        open_escalations_count=0,
        pending_override_id=None,
    )


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CaseTable(clock=frozen_clock(NOW))


MARKUP_CHARACTERS = st.sampled_from(list("[]\\@=/#:\"'"))
PRINTABLE = st.characters(categories=["L", "M", "N", "P", "S", "Zs"])
NAMES = st.text(st.one_of(MARKUP_CHARACTERS, PRINTABLE), min_size=1, max_size=120).filter(
    lambda name: name.strip() != ""
)


async def test_any_case_name_is_drawn_literally_in_its_queue_row() -> None:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(CaseTable)
        await pilot.pause()
        header = table.render_line(0).text
        start = header.index("Name")
        width = header.index("Status") - start - 1

        @settings(max_examples=50, derandomize=True, deadline=None, database=None)
        @given(NAMES)
        def check(name: str) -> None:
            table.set_rows([queue_row(name)])
            line = table.render_line(1)
            cell = line.crop(start, start + width).text
            expected = name if cell_len(name) <= width else set_cell_size(name, width - 1) + "…"
            assert cell.rstrip() == expected.rstrip()
            assert live_segments([line]) == []

        check()


# -- bugs ----------------------------------------------------------------------------------


async def test_a_tab_in_a_case_name_never_reaches_the_terminal(
    console: Callable[..., CasedeskApp], hostile: Hostile
) -> None:
    case = hostile.cases["tab"]
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = queue_of(app).table
        index = next(i for i, row in enumerate(table.rows) if row.id == case.id)
        texts = [segment.text for segment in table.render_line(index + 1)]
        assert not any("\t" in text for text in texts), texts


class PaletteApp(App[None]):
    """Just the case palette over given queue rows (queue names come from the server)."""

    COMMANDS = frozenset({CaseCommands})

    def __init__(self, rows: list[SimpleNamespace]) -> None:
        super().__init__()
        self.rows = rows
        self.opened: list[uuid.UUID] = []

    def compose(self) -> ComposeResult:
        yield Static("cases")

    def queue_rows(self) -> list[SimpleNamespace]:
        return self.rows

    def open_case(self, case_id: uuid.UUID) -> None:
        self.opened.append(case_id)


@pytest.mark.parametrize("queue_name", ["Review [/", "Review [/x", "Review \\[b]"])
async def test_a_queue_name_is_shown_literally_in_the_palette(queue_name: str) -> None:
    app = PaletteApp([queue_row("Acme Holding", queue_name=queue_name)])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"acme")
        await settle(pilot)
        lines = [strip.text for strip in screen_strips(app)]
        assert any("CAS-000001  Acme Holding" in line for line in lines)
        assert any(f"open · {queue_name}" in line for line in lines), lines
        assert app.is_running
