"""`CaseScreen`: one case — its key facts, and tabs for overview, chat, escalations,
overrides and activity; `n`/`p` walk the cases of the queue's view without going back.

It paints the cached case at once, then asks the service for fresh details in
a worker and paints again when they come (or stays on the cache, offline).
Every action the reviewer may take now has a key; it opens the action's form
(or, for "assign to me", acts at once), queues what the form returns, shows it
as pending on the case at once and says whether it was sent, queued or refused.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import ClassVar
from uuid import UUID

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.widgets import TabbedContent
from textual.worker import Worker, WorkerState

from casedesk.domain.actions import AssignAction, CaseAction
from casedesk.domain.enums import ActionType
from casedesk.domain.permissions import allowed_actions
from casedesk.sync.service import CaseService, PendingAction, Queued
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.catalog import form_for
from casedesk.tui.messages import CacheChanged, ClockTicked
from casedesk.tui.screens.base import DeskScreen
from casedesk.tui.widgets.case_format import CaseShown, CaseView, People, label
from casedesk.tui.widgets.case_header import CaseHeader
from casedesk.tui.widgets.case_tabs import TABS, CaseTabs
from casedesk.tui.widgets.key_footer import KeyFooter
from casedesk.tui.widgets.status_bar import StatusBar

DETAILS_GROUP = "case-details"
ACT_GROUP = "case-act"


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
        Binding("c", "form('comment')", "Comment", id="case.comment"),
        Binding("e", "form('escalate')", "Escalate", id="case.escalate"),
        Binding("q", "form('query')", "Query", id="case.query"),
        Binding("s", "form('resume')", "Resume", id="case.resume"),
        Binding("ctrl+o", "form('reopen')", "Reopen", id="case.reopen"),
        Binding("a", "assign_me", "Assign to me", id="case.assign_me"),
        Binding("at", "form('assign')", "Assign to…", id="case.assign"),
        Binding("o", "form('request_override')", "Request override", id="case.request_override"),
        Binding("A", "form('accept_override')", "Accept override", id="case.accept_override"),
        Binding("R", "form('refuse_override')", "Refuse override", id="case.refuse_override"),
        Binding("X", "form('cancel_override')", "Cancel override", id="case.cancel_override"),
        Binding("x", "form('close')", "Close case", id="case.close"),
        Binding(
            "u", "form('update_escalation')", "Update escalations", id="case.update_escalation"
        ),
        Binding(
            "C",
            "form('complete_escalation')",
            "Complete escalation",
            id="case.complete_escalation",
        ),
        Binding("E", "correct", "Correct refused action", id="case.correct"),
    ]

    index: reactive[int] = reactive(0, bindings=True)
    """Position of the case shown in `case_ids`."""

    def __init__(
        self,
        service: CaseService,
        *,
        case_ids: Sequence[UUID],
        index: int,
        correcting: UUID | None = None,
    ) -> None:
        super().__init__(service)
        self._correct_first = correcting
        """An outbox item to reopen in its form once the case is shown (edit from the outbox)."""
        if not case_ids:
            raise ValueError("a case screen needs at least one case")
        self.case_ids = case_ids
        """Kept by reference, never copied: the queue's view may hold 50,000 rows."""
        self.set_reactive(CaseScreen.index, max(0, min(index, len(self.case_ids) - 1)))
        self.seen: set[UUID] = set()
        """The cases shown since the screen was (re)opened: their chats may have been read."""
        self.details: CaseView | None = None
        self.fetching = False
        """Fresh details are being asked for. (Not `loading`: on a widget, that covers it
        with a spinner and disables it.)"""
        self._fetch_started: datetime | None = None
        self.allowed: frozenset[ActionType] = frozenset()
        """What the reviewer may do on the case now (roles and state): the keys offered."""
        self.pending: tuple[PendingAction, ...] = ()
        """The case's actions still in the outbox, as last painted."""
        self._reshown = False
        self._styled_in: tuple[object, object] | None = None

    @property
    def case_id(self) -> UUID:
        return self.case_ids[self.index]

    def compose(self) -> ComposeResult:
        yield CaseHeader(id="case-header")
        yield CaseTabs(id="case-tabs")
        yield StatusBar()
        yield KeyFooter()

    @property
    def tabs(self) -> CaseTabs:
        return self.query_one(CaseTabs)

    def on_mount(self) -> None:
        super().on_mount()
        self.tabs.select("overview")
        self.load()
        if self._correct_first is not None:
            item_id, self._correct_first = self._correct_first, None
            self.call_after_refresh(self.correct, item_id)

    def show_cases(self, case_ids: Sequence[UUID], index: int) -> None:
        """Make this (popped) screen show `case_ids[index]` when it is pushed again.

        The queue keeps one case screen and reuses it: building its ~50 widgets anew
        cost more than everything else opening a case does.
        """
        if not case_ids:
            raise ValueError("a case screen needs at least one case")
        self.case_ids = case_ids
        self.set_reactive(CaseScreen.index, max(0, min(index, len(self.case_ids) - 1)))
        self.seen = set()
        self._correct_first = None
        self.details = None
        self.fetching = False
        self._fetch_started = None
        self.allowed = frozenset()
        self.pending = ()
        self._reshown = True

    @on(events.ScreenResume)
    def _keep_styles(self, event: events.ScreenResume) -> None:
        """Textual restyles every widget of a screen pushed again, in case the theme changed
        while it was away: a third of the time opening a case took. Skip that when the
        theme is the one the widgets were styled in. (Runs before `Screen`'s own handler.)
        """
        theme = (self.app.current_theme, self.app.ansi_theme)
        if self._styled_in == theme:
            event.refresh_styles = False
        self._styled_in = theme

    def on_screen_resume(self) -> None:
        """Pushed again with another case (not back from a form): start as a new screen."""
        if not self._reshown:
            return
        self._reshown = False
        self.update_status()
        self.tabs.forget_case()
        self.tabs.select("overview")
        self.load()
        self.refresh_bindings()

    # -- data ------------------------------------------------------------------------

    def load(self) -> None:
        """Show the cached case now; fetch fresh details in the background."""
        self.seen.add(self.case_id)
        self.details = self.service.case(str(self.case_id))
        self._fetch_started = self.service.clock()
        self.fetching = self.details is not None
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
                self.fetching = False
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
            self._offer(frozenset(), ())
            return
        case = details.case
        me = self.service.me()
        allowed = allowed_actions(
            case=case,
            user_id=me.id if me else None,
            roles=self.service.roles(),
            overrides=details.overrides,
            escalations=details.escalations,
        )
        self._offer(allowed, tuple(self.service.case_outbox(case.id)))
        started = self._fetch_started
        hours = {queue.id: queue.sla_hours for queue in self.service.queues()}
        shown = CaseShown(
            view=details,
            people=People(self.service.users(), self.service.me()),
            now=self.service.clock(),
            sla_hours=hours.get(case.queue.id),
            loading=self.fetching,
            fresh=bool(started and details.fetched_at and details.fetched_at >= started),
            online=self.service.online,
            position=self.index + 1,
            total=len(self.case_ids),
            pending=self.pending,
        )
        header.show(shown)
        tabs.show(shown)
        self._mark_chat_read()

    def _mark_chat_read(self) -> None:
        """Seeing the chat tab is reading it: the queue's unread flag goes."""
        if self.details is not None and self.details.messages and self.tabs.active == "chat":
            self.service.mark_chat_read(self.case_id)

    def _offer(self, allowed: frozenset[ActionType], pending: tuple[PendingAction, ...]) -> None:
        parked = any(p.parked for p in pending) != any(p.parked for p in self.pending)
        self.pending = pending
        if allowed != self.allowed or parked:
            self.allowed = allowed
            self.refresh_bindings()

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "chat":
            self._mark_chat_read()
        self.refresh_bindings()  # some keys belong to one tab (`C` on Escalations)

    @on(CacheChanged)
    def _reread_case(self) -> None:
        """A sync wrote the cache: show what it now holds; fetch again if the lists are stale."""
        details = self.service.case(str(self.case_id))
        if details is not None:
            self.details = details
        again = bool(details and details.stale and self.service.online and not self.fetching)
        if again:
            self.fetching = True
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
        elif worker.group == ACT_GROUP and event.state is WorkerState.ERROR:
            self._changed()
            self.notify(
                f"Could not queue the action (the form's draft is kept): {worker.error}",
                title="Case",
                severity="error",
                markup=False,
            )

    # -- keys ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.index < len(self.case_ids) - 1 else None
        if action == "previous":
            return True if self.index > 0 else None
        if action == "correct":
            return any(p.parked for p in self.pending)
        if action == "assign_me":
            if ActionType.ASSIGN not in self.allowed:
                return False
            me, case = self.service.me(), self.details.case if self.details else None
            mine = bool(me and case and case.assignee and case.assignee.id == me.id)
            return None if mine else True  # already theirs: shown dimmed
        if action != "form" or not parameters:
            return True
        kind = ActionType(str(parameters[0]))
        if kind not in self.allowed:
            return False  # hidden: the roles or the case's state forbid it
        if kind in (ActionType.UPDATE_ESCALATION, ActionType.COMPLETE_ESCALATION):
            return self.is_mounted and self.tabs.active == "escalations"  # keys of that tab
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

    # -- acting ----------------------------------------------------------------------

    def action_assign_me(self) -> None:
        """Assign the case to the signed-in reviewer: no form, the notification confirms it."""
        me = self.service.me()
        if me is None or self.details is None or ActionType.ASSIGN not in self.allowed:
            return
        action = AssignAction.model_validate({"type": ActionType.ASSIGN, "assignee_id": me.id})
        self.act(self.case_id, self.details.case.reference, action)

    def action_correct(self) -> None:
        """Reopen the form of the case's oldest refused action: its text, the API's errors."""
        self.correct(next((p.item_id for p in self.pending if p.parked), None))

    def correct(self, item_id: UUID | None) -> None:
        """Reopen the form of the outbox item `item_id` of this case, to edit and resend it."""
        parked = next((p for p in self.pending if p.item_id == item_id), None)
        if parked is None or self.details is None:
            return
        kind = ActionType(parked.action.type)
        form = form_for(kind, self.service, self.details, correcting=parked)
        if form is None:
            self.notify(
                "This refused action has no form here: see the outbox (O) to retry or discard it.",
                title="Case",
                severity="warning",
                markup=False,
            )
            return
        self._push_form(form)

    def action_form(self, name: str) -> None:
        """Open the form of the action `name` on the case shown, if the reviewer may take it now."""
        kind = ActionType(name)
        if self.details is None or kind not in self.allowed:
            return
        form = form_for(kind, self.service, self.details)
        if form is not None:
            self._push_form(form)

    def _push_form(self, form: ActionForm) -> None:
        case = form.case
        self.app.push_screen(form, partial(self._form_closed, case.id, case.reference, form))

    def _form_closed(
        self, case_id: UUID, reference: str, form: ActionForm, action: CaseAction | None
    ) -> None:
        if action is not None:
            draft = form.draft_key if form.KEEPS_DRAFT else None
            edited = form.edited.item_id if form.edited is not None else None
            self.act(case_id, reference, action, draft=draft, replacing=edited)

    @work(group=ACT_GROUP, exit_on_error=False)
    async def act(
        self,
        case_id: UUID,
        reference: str,
        action: CaseAction,
        *,
        draft: str | None = None,
        replacing: UUID | None = None,
    ) -> None:
        """Queue `action` durably (the case shows it pending), forget the form's draft, send it.

        With `replacing`, the action corrects that refused outbox item instead.
        """
        if replacing is not None:
            queued = await self.service.edit_action(replacing, action, send=False)
        else:
            queued = await self.service.act(str(case_id), action, send=False)
        if draft:
            # Durably queued: the outbox now holds the text (and keeps it if the send fails).
            await self.service.clear_draft(case_id, draft)
        self._changed()
        queued = await self.service.deliver(queued)
        self._say(reference, action, queued)
        if queued.sent:
            try:
                details = await self.service.open_case(str(case_id))
            except Exception:  # the action went through: its echo can wait for the next sync
                details = None
            if details is not None and case_id == self.case_id:
                self.details = details
        self._changed()

    def _say(self, reference: str, action: CaseAction, queued: Queued) -> None:
        what = f"{label(action.type).capitalize()} on {reference}"
        if queued.sent:
            self.notify(f"{what}: sent.", title="Case", markup=False)
        elif queued.item.park_reason is not None:
            self.notify(
                f"{what}: refused: {queued.error}", title="Case", severity="error", markup=False
            )
        else:
            self.notify(
                f"{what}: queued — will be sent when online.",
                title="Case",
                severity="warning",
                markup=False,
            )

    def _changed(self) -> None:
        """The outbox (and maybe the cache) changed: repaint here, and tell the other screens."""
        self.paint()
        self.update_status()
        for screen in self.app.screen_stack:
            if screen is not self:
                screen.post_message(CacheChanged())
