"""`CasedeskApp`: the console. Thin: it owns the service, the timers and the sync worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.message import Message
from textual.screen import ModalScreen

from casedesk.tui import gc_pause
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
    from casedesk.domain.create import NewCase
    from casedesk.domain.queue_head import QueueHead
    from casedesk.sync.events import SyncProgress
    from casedesk.sync.service import CaseService
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

    def __init__(
        self,
        service: CaseService | None,
        settings: ConsoleSettings,
        *,
        opening: Callable[[], Awaitable[CaseService]] | None = None,
        head: QueueHead | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Over an open `service`; or paint `head` first and await `opening()` for it.

        `opening` opens the cache (in a thread) once the first frame is out; until then the
        queue shows the head's rows, aged by `clock` (see `queue_head`).
        """
        super().__init__()
        if (service is None) == (opening is None):
            raise ValueError("give the console a service or a way to open one")
        self._service = service
        self._opening = opening
        if opening is not None:
            # Until the first frame everything allocated lives on (imports, widgets, the
            # head): a collection would find nothing to free. Resumed once it is out.
            gc_pause.pause()
        self._head = head
        self._clock = clock
        self.settings = settings
        self.syncing = False

    @property
    def service(self) -> CaseService:
        if self._service is None:
            raise RuntimeError("the console is still opening its cache")
        return self._service

    def on_mount(self) -> None:
        self.theme = THEMES.get(self.settings.theme, "textual-dark")
        queue = QueueScreen(
            self._service, start_view=self.settings.start_view, head=self._head, clock=self._clock
        )
        self.push_screen(queue)
        # In case the frame after a key never came (its screen was closed first).
        self.set_interval(1, partial(gc_pause.resume, older_than=1.0))
        if self._service is not None:
            self._start()

    @on(QueueScreen.Painted)
    def _first_frame(self) -> None:
        self.open_service()

    @work(group="open", exit_on_error=False)
    async def open_service(self) -> None:
        """Open the cache behind the painted head; a failure ends the console, saying why."""
        assert self._opening is not None
        try:
            service = await self._opening()
        except Exception as error:  # the CLI prints the message and exits non-zero
            self.exit(return_code=1, message=f"casedesk: could not open the console: {error}")
            return
        self._service = service
        queue = self.queue_screen()
        if queue is not None:
            queue.attach(service)
        self._start()

    def _tell_store_events(self) -> None:
        """What the store found and handled on opening (a quarantined file, an unreadable
        outbox), said once: the terminal's stderr is hidden behind the console."""
        service = self.service
        for event in service.store_events():
            self.notify(str(event), title="Local store", severity="warning", markup=False)
        problem = service.store.outbox_problem
        if problem is not None:
            self.notify(str(problem), title="Outbox", severity="error", timeout=30, markup=False)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            # A keystroke allocates enough to set the cyclic GC off, and its pass then fell
            # between the key and its frame (see `gc_pause`).
            gc_pause.pause()
        await super().on_event(event)

    def post_display_hook(self) -> None:
        """A frame is out: what paused the GC for it is over."""
        gc_pause.resume()

    def on_unmount(self) -> None:
        gc_pause.resume()  # whatever frame a pause waited for will not come now

    def _start(self) -> None:
        """The service is open: say what the store noticed, start syncing and ticking."""
        self._tell_store_events()
        if self.settings.sync_on_start:
            self.action_sync()
        self.set_interval(self.settings.sync_interval_seconds, self.action_sync)
        self.set_interval(60, self._tick)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: ARG002
        """Syncing and the outbox wait for the cache to be open."""
        return self._service is not None or action not in ("sync", "outbox")

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

    def on_outbox_screen_edit_requested(self, event: OutboxScreen.EditRequested) -> None:
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
        if not self.syncing and self._service is not None:
            self.run_sync()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        from casedesk.sync.events import PushResult, SyncResult

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
