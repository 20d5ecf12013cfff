"""`DeskScreen`: what every console screen shares — the status bar and its updates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.screen import Screen

from casedesk.tui.messages import CacheChanged, SyncFinished, SyncProgressed, SyncStarted
from casedesk.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from casedesk.sync.service import CaseService


class DeskScreen(Screen[None]):
    """A screen with a `StatusBar` that follows the sync and the outbox."""

    def __init__(self, service: CaseService | None) -> None:
        super().__init__()
        self._service = service

    @property
    def service(self) -> CaseService:
        """The cache, outbox and API; only the queue is shown before they are open."""
        if self._service is None:
            raise RuntimeError("the console is still opening its cache")
        return self._service

    @property
    def ready(self) -> bool:
        """Whether the service is open (see `QueueScreen.attach`)."""
        return self._service is not None

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        if self.ready:
            self.update_status()

    def update_status(self, progress: str | None = None) -> None:
        bar = self.status_bar
        service = self.service
        me = service.me()
        bar.profile = service.profile_name
        bar.user = me.name if me else ""
        bar.online = service.online
        bar.last_sync = service.last_sync_at()
        counts = service.outbox_counts()
        bar.pending = counts.pending
        bar.parked = counts.parked
        if progress is not None:
            bar.progress = progress

    @on(SyncStarted)
    def _sync_started(self) -> None:
        self.update_status(progress="syncing…")

    @on(SyncProgressed)
    def _sync_progressed(self, message: SyncProgressed) -> None:
        event = message.progress
        if event.phase == "details":
            text = f"syncing details {event.details_done}/{event.details_total}"
        elif event.phase == "cases":
            text = f"syncing {event.cases} cases ({event.pages} pages)"
        else:
            text = f"syncing ({event.phase})"
        self.status_bar.progress = text

    @on(SyncFinished)
    def _sync_finished(self, message: SyncFinished) -> None:
        result = message.result
        self.update_status(progress="")
        if result.error:
            self.status_bar.note = f"sync failed: {result.error}"[:120]
        else:
            self.status_bar.note = ""

    @on(CacheChanged)
    def _cache_changed(self) -> None:
        self.update_status()
