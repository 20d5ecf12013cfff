"""`CaseScreen`: one case — its key facts, and tabs for overview, chat, escalations,
overrides and activity; `n`/`p` walk the cases of the queue's view without going back.

It paints the cached case at once, then asks the service for fresh details in
a worker and paints again when they come (or stays on the cache, offline).
"""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import Footer, TabbedContent
from textual.worker import Worker, WorkerState

from casedesk.sync.service import CaseService
from casedesk.tui.messages import CacheChanged, ClockTicked
from casedesk.tui.screens.base import DeskScreen
from casedesk.tui.widgets.case_format import CaseShown, CaseView, People
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.case_tabs import TABS, CaseTabs
from casedesk.tui.widgets.status_bar import StatusBar

DETAILS_GROUP = "case-details"


def _tab_bindings() -> list[BindingType]:
    return [
        Binding(str(number), f"tab('{key}')", f"{title} tab", show=False, id=f"case.tab_{key}")
        for number, (key, title, _) in enumerate(TABS, start=1)
    ]


class CaseScreen(DeskScreen):
    """Read one case; `n`/`p` for the next/previous case of the view, Esc for the queue."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to queue", id="case.back"),
        Binding("n", "next", "Next case", id="case.next"),
        Binding("p", "previous", "Previous case", id="case.previous"),
        *_tab_bindings(),
    ]

    index: reactive[int] = reactive(0, bindings=True)
    """Position of the case shown in `case_ids`."""

    def __init__(self, service: CaseService, *, case_ids: list[UUID], index: int) -> None:
        super().__init__(service)
        if not case_ids:
            raise ValueError("a case screen needs at least one case")
        self.case_ids = list(case_ids)
        self.set_reactive(CaseScreen.index, max(0, min(index, len(self.case_ids) - 1)))
        self.details: CaseView | None = None
        self.loading = False
        self._fetch_started: datetime | None = None

    @property
    def case_id(self) -> UUID:
        return self.case_ids[self.index]

    def compose(self) -> ComposeResult:
        yield CaseHeader(id="case-header")
        yield CaseTabs(id="case-tabs")
        yield StatusBar()
        yield Footer()

    @property
    def tabs(self) -> CaseTabs:
        return self.query_one(CaseTabs)

    def on_mount(self) -> None:
        super().on_mount()
        self.tabs.select("overview")
        self.load()

    # -- data ------------------------------------------------------------------------

    def load(self) -> None:
        """Show the cached case now; fetch fresh details in the background."""
        self.details = self.service.case(str(self.case_id))
        self._fetch_started = self.service.clock()
        self.loading = self.details is not None
        self.paint()
        if self.details is not None:
            self.fetch(self.case_id)

    @work(exclusive=True, group=DETAILS_GROUP, exit_on_error=False)
    async def fetch(self, case_id: UUID) -> None:
        """Ask the API for the case's details; the cache answers when it cannot."""
        try:
            details = await self.service.open_case(str(case_id))
        finally:
            if case_id == self.case_id:
                self.loading = False
        if case_id != self.case_id:
            return  # the reviewer moved on meanwhile
        if details is not None:
            self.details = details
        self.paint()
        self.update_status()

    def paint(self) -> None:
        """Draw the current state of the case in the header and every tab."""
        details = self.details
        header, tabs = self.query_one(CaseHeader), self.tabs
        if details is None:
            sentence = "This case is not in the cache (any more): go back with Esc and sync."
            header.show_sentence(sentence)
            tabs.show_sentence(sentence)
            return
        case = details.case
        started = self._fetch_started
        hours = {queue.id: queue.sla_hours for queue in self.service.queues()}
        shown = CaseShown(
            view=details,
            people=People(self.service.users(), self.service.me()),
            now=self.service.clock(),
            sla_hours=hours.get(case.queue.id),
            loading=self.loading,
            fresh=bool(started and details.fetched_at and details.fetched_at >= started),
            online=self.service.online,
            position=self.index + 1,
            total=len(self.case_ids),
        )
        header.show(shown)
        tabs.show(shown)
        self._mark_chat_read()

    def _mark_chat_read(self) -> None:
        """Seeing the chat tab is reading it: the queue's unread flag goes."""
        if self.details is not None and self.details.messages and self.tabs.active == "chat":
            self.service.mark_chat_read(self.case_id)

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "chat":
            self._mark_chat_read()

    @on(CacheChanged)
    def _reread_case(self) -> None:
        """A sync wrote the cache: show what it now holds; fetch again if the lists are stale."""
        details = self.service.case(str(self.case_id))
        if details is not None:
            self.details = details
        again = bool(details and details.stale and self.service.online and not self.loading)
        if again:
            self.loading = True
        self.paint()
        if again:
            self.fetch(self.case_id)

    @on(ClockTicked)
    def _clock_ticked(self) -> None:
        self.paint()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == DETAILS_GROUP and event.state is WorkerState.ERROR:
            self.paint()
            self.notify(
                f"Could not load the case's details: {worker.error}",
                title="Case",
                severity="error",
                markup=False,
            )

    # -- keys ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: ARG002
        if action == "next":
            return True if self.index < len(self.case_ids) - 1 else None
        if action == "previous":
            return True if self.index > 0 else None
        return True

    def action_tab(self, key: str) -> None:
        self.tabs.select(key)

    def action_next(self) -> None:
        self._go(self.index + 1)

    def action_previous(self) -> None:
        self._go(self.index - 1)

    def _go(self, index: int) -> None:
        if 0 <= index < len(self.case_ids) and index != self.index:
            self.index = index
            self.load()

    def action_back(self) -> None:
        self.app.pop_screen()
