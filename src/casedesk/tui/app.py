"""`CasedeskApp`: the console. Thin: it owns the service, the timers and the sync worker."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.message import Message
from textual.screen import ModalScreen

from casedesk.domain.create import NewCase
from casedesk.sync.events import PushResult, SyncProgress, SyncResult
from casedesk.sync.service import CaseService
from casedesk.tui.messages import (
    CacheChanged,
    ClockTicked,
    SyncFinished,
    SyncProgressed,
    SyncStarted,
)
from casedesk.tui.resources import stylesheets
from casedesk.tui.screens.queue import QueueScreen
from casedesk.tui.settings import ConsoleSettings

if TYPE_CHECKING:
    from casedesk.tui.screens.outbox import OutboxScreen

# A start paints the queue and nothing else: the other screens, the forms and the
# palette's provider are imported when first used (research/perf-floors.md §1).


def _case_commands() -> type[Provider]:
    from casedesk.tui.commands import CaseCommands

    return CaseCommands


THEMES = {"dark": "textual-dark", "light": "textual-light"}


class CasedeskApp(App[None]):
    """A keyboard-driven console over one profile's cache, outbox and case API."""

    TITLE = "casedesk"
    CSS_PATH: ClassVar = stylesheets()
    COMMANDS: ClassVar = App.COMMANDS | {_case_commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("question_mark", "help", "Keys", id="app.help"),
        Binding("r", "sync", "Sync", id="app.sync"),
        Binding("O", "outbox", "Outbox", id="app.outbox"),
    ]

    def __init__(self, service: CaseService, settings: ConsoleSettings) -> None:
        super().__init__()
        self.service = service
        self.settings = settings
        self.syncing = False

    def on_mount(self) -> None:
        self.theme = THEMES.get(self.settings.theme, "textual-dark")
        self.push_screen(QueueScreen(self.service, start_view=self.settings.start_view))
        if self.settings.sync_on_start:
            self.action_sync()
        self.set_interval(self.settings.sync_interval_seconds, self.action_sync)
        self.set_interval(60, self._tick)

    def queue_screen(self) -> QueueScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, QueueScreen)), None)

    def queue_rows(self) -> list[Any]:
        """Every cached case as the queue holds it (for the palette)."""
        queue = self.queue_screen()
        return list(queue.snapshot.rows) if queue and queue.snapshot else []

    def open_case(self, case_id: UUID) -> None:
        """Open a case on top of the queue (from the palette)."""
        queue = self.queue_screen()
        if queue is not None:
            while self.screen is not queue:
                self.pop_screen()
            queue.open_case(case_id)

    def action_help(self) -> None:
        from casedesk.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_outbox(self) -> None:
        """Open the outbox over the current screen (not over a dialog, nor twice)."""
        from casedesk.tui.screens.outbox import OutboxScreen

        if not isinstance(self.screen, OutboxScreen | ModalScreen):
            self.push_screen(OutboxScreen(self.service))

    def on_outbox_screen_edit_requested(self, event: "OutboxScreen.EditRequested") -> None:
        """Reopen the item's form (on its case, or a new case's): corrected, it is sent as a
        new request."""
        from casedesk.tui.case_creation import queue_new_case
        from casedesk.tui.forms.new_case import NewCaseForm, RefusedCase
        from casedesk.tui.screens.case import CaseScreen
        from casedesk.tui.screens.outbox import OutboxScreen

        case_id = event.item.case_id
        if case_id is None:  # a new case: its form opens over the outbox, shown again after
            item_id = event.item.id
            form = NewCaseForm(self.service).edit(RefusedCase.of(event.item))

            def queue_correction(new_case: NewCase | None) -> None:
                if new_case is not None:
                    correction = queue_new_case(
                        self, self.service, new_case, draft=form.draft_key, replacing=item_id
                    )
                    self.run_worker(correction, group="create-case", exit_on_error=False)

            self.push_screen(form, queue_correction)
            return
        while isinstance(self.screen, OutboxScreen):
            self.pop_screen()
        self.push_screen(
            CaseScreen(self.service, case_ids=[case_id], index=0, correcting=event.item.id)
        )

    def action_sync(self) -> None:
        """Send queued actions and pull changes, in the background."""
        if not self.syncing:
            self.run_sync()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        self.syncing = True
        self._broadcast(SyncStarted)
        try:
            result = await self.service.sync(progress=self._progressed)
        except Exception as error:  # any failure turns the bar offline, never the app
            self.service.online = False
            result = SyncResult(pull=None, push=PushResult(), online=False, error=str(error))
        finally:
            self.syncing = False
        self._broadcast(lambda: SyncFinished(result))
        self._broadcast(CacheChanged)

    def _progressed(self, progress: SyncProgress) -> None:
        self._broadcast(lambda: SyncProgressed(progress))

    def _tick(self) -> None:
        self._broadcast(ClockTicked)

    def _broadcast(self, make: Callable[[], Message]) -> None:
        """Tell every screen on the stack (the queue under a case screen must stay current)."""
        for screen in self.screen_stack:
            screen.post_message(make())
