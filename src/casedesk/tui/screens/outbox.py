"""`OutboxScreen` (`O`): the actions on their way to the API, and what to do with the stuck ones.

Pending (queued or sending) and parked items, with their case, action, age,
attempts, next try and the API's last error. `r` retries (and sends at once),
`d` discards after a confirmation, Enter shows an item in full, `e` asks for
the item's form to be reopened: the screen posts `OutboxScreen.EditRequested`,
which the app hands to the action forms.
"""

from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import UUID

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from casedesk.sync.service import CaseService
from casedesk.tui.messages import CacheChanged, ClockTicked
from casedesk.tui.screens.base import DeskScreen
from casedesk.tui.widgets.confirm import ConfirmDialog
from casedesk.tui.widgets.outbox_dialogs import ItemDetailsDialog
from casedesk.tui.widgets.outbox_format import (
    PARKED,
    QUEUED,
    OutboxEntry,
    action_word,
    can_discard,
    can_edit,
    case_label,
    is_parked,
    is_pending,
    item_report,
    next_try,
)
from casedesk.tui.widgets.outbox_table import OutboxTable
from casedesk.tui.widgets.status_bar import StatusBar

REFRESH_SECONDS = 5.0
"""Ages and next tries move on their own: the table is redrawn this often."""


def announce_cache_changed(app: App[Any]) -> None:
    """Tell every screen on the stack that the outbox changed (status bar, flags, this table)."""
    for screen in app.screen_stack:
        screen.post_message(CacheChanged())


class OutboxScreen(DeskScreen):
    """Every action not yet acknowledged by the API: retry, edit or discard the stuck ones."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="outbox.back"),
        Binding("r", "retry", "Retry now", id="outbox.retry"),
        Binding("e", "edit", "Edit", id="outbox.edit"),
        Binding("d", "discard", "Discard", id="outbox.discard"),
    ]

    class EditRequested(Message):
        """The reviewer asked to edit `item` (parked, or queued and never tried).

        Posted by the screen; it bubbles to the app, which reopens the item's
        action form with `item.body` and, on submit, replaces the body through
        the service (a new Idempotency-Key: it is a new request).
        """

        def __init__(self, item: OutboxEntry) -> None:
            super().__init__()
            self.item = item

    def __init__(self, service: CaseService) -> None:
        super().__init__(service)
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="outbox-summary")
        yield OutboxTable(id="outbox-items")
        yield StatusBar()
        yield Footer()

    @property
    def table(self) -> OutboxTable:
        return self.query_one(OutboxTable)

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self.reload()
        self.set_interval(REFRESH_SECONDS, self.reload)

    # -- data ------------------------------------------------------------------------

    def items(self) -> Sequence[OutboxEntry]:
        """Pending, sending and parked items, in the order they go out."""
        try:
            items: Sequence[OutboxEntry] = self.service.outbox()
        except Exception as error:  # an unreadable outbox file: say so, never crash
            self.problem = f"The outbox could not be read: {error}"
            return []
        self.problem = None
        return [item for item in items if is_pending(item) or is_parked(item)]

    def reload(self) -> None:
        """Read the outbox again and redraw (cheap: the service keeps it in memory)."""
        items = self.items()
        self.table.show(items, self.service.clock())
        self.query_one("#outbox-summary", Static).update(self._summary(items))
        self.refresh_bindings()

    def _summary(self, items: Sequence[OutboxEntry]) -> Text:
        if self.problem is not None:
            return Text(self.problem, style="bold red")
        if not items:
            return Text("Nothing waiting: every action reached the API.", style="dim")
        parked = sum(1 for item in items if is_parked(item))
        text = Text(f"{len(items) - parked} pending", style="bold")
        if parked:
            text.append(f", {parked} parked", style="bold yellow")
            text.append(
                " — parked actions wait for you: r retry · e edit · d discard · Enter details",
                style="dim",
            )
        return text

    @on(CacheChanged)
    @on(ClockTicked)
    def _outbox_changed(self) -> None:
        self.reload()

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    # -- keys ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: ARG002
        """Retry, edit and discard are offered on the items they apply to (dimmed otherwise)."""
        rules = {"retry": _can_retry, "edit": can_edit, "discard": can_discard}
        if action not in rules:
            return True
        if not self.is_mounted:
            return None
        item = self.table.current
        return True if item is not None and rules[action](item) else None

    def action_back(self) -> None:
        self.dismiss()

    def action_retry(self) -> None:
        """A parked item is queued again; then every queued item is sent now (backoff ignored)."""
        item = self.table.current
        if item is None or not _can_retry(item):
            return
        if is_parked(item):
            try:
                self.service.retry(item.id)
            except Exception as error:  # it moved meanwhile (sent, discarded elsewhere)
                self.notify(str(error), title="Could not retry", severity="warning", markup=False)
                self.reload()
                return
        announce_cache_changed(self.app)
        # On the app, not this screen: leaving the outbox must not cancel a send half done.
        self.app.run_worker(self.send_now(item.id), group="outbox-send", exit_on_error=False)

    async def send_now(self, item_id: UUID) -> None:
        """Push the outbox (backoff ignored, `Retry-After` kept), then say how `item_id` fared."""
        app = self.app
        await self.service.push(ignore_backoff=True)
        announce_cache_changed(app)
        item = next((i for i in self.service.outbox(include_done=True) if i.id == item_id), None)
        if item is None:
            return
        what = f"{action_word(item).capitalize()} on {case_label(item)}"
        if str(item.state) == PARKED:
            error = item.last_error.message if item.last_error else "no reason given"
            app.notify(
                f"{what} parked again: {error}", title="Not sent", severity="error", markup=False
            )
        elif str(item.state) == QUEUED:
            when = next_try(item, self.service.clock())
            app.notify(f"{what} still queued; next try {when}.", markup=False)
        else:
            app.notify(f"{what} sent.", markup=False)

    def action_discard(self) -> None:
        item = self.table.current
        if item is None or not can_discard(item):
            return
        question = f"Discard the {action_word(item)} on {case_label(item)}? It will not be sent."
        dialog = ConfirmDialog(question, confirm="Discard", danger=True)
        self.app.push_screen(dialog, lambda yes: self._discard(item, bool(yes)))

    def _discard(self, item: OutboxEntry, confirmed: bool) -> None:
        if not confirmed:
            return
        try:
            self.service.discard(item.id)
        except Exception as error:  # sent or changed meanwhile
            self.notify(str(error), title="Not discarded", severity="warning", markup=False)
        else:
            self.notify(f"Discarded the {action_word(item)} on {case_label(item)}.", markup=False)
        announce_cache_changed(self.app)

    def action_edit(self) -> None:
        item = self.table.current
        if item is not None and can_edit(item):
            self.post_message(self.EditRequested(item))

    @on(DataTable.RowSelected)
    def _show_details(self, event: DataTable.RowSelected) -> None:
        event.stop()
        item = self.table.current
        if item is None:
            return
        title = f"{action_word(item).capitalize()} on {case_label(item)}"
        self.app.push_screen(ItemDetailsDialog(title, item_report(item, self.service.clock())))


def _can_retry(item: OutboxEntry) -> bool:
    """Parked (queue it again) or queued (send it now); an item on the wire is left alone."""
    return str(item.state) in (PARKED, QUEUED)
