"""`QueueScreen`: the views, the filter line and the table of cases to triage."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from uuid import UUID

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input, Tab, Tabs

from casedesk.domain import limits
from casedesk.domain.clock import system_clock
from casedesk.domain.enums import ActionType
from casedesk.domain.query import Query, QueryError, parse_query
from casedesk.domain.views import VIEWS, VIEWS_BY_KEY
from casedesk.tui import gc_pause
from casedesk.tui.messages import CacheChanged, ClockTicked
from casedesk.tui.screens.base import DeskScreen
from casedesk.tui.widgets.case_table import SORTABLE, CaseTable, RowIds
from casedesk.tui.widgets.filter_bar import FilterBar
from casedesk.tui.widgets.key_footer import KeyFooter
from casedesk.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from casedesk.domain.actions import CaseAction
    from casedesk.domain.create import NewCase
    from casedesk.domain.queue_head import QueueHead
    from casedesk.sync.service import CaseService
    from casedesk.sync.snapshot import QueueSnapshot
    from casedesk.tui.bulk import BulkPlan
    from casedesk.tui.screens.case import CaseScreen

# Bulk actions, the new-case form, the case screen and the service's models are imported
# when first used: a start paints the queue only (research/perf-floors.md §1, queue_head).

NEEDS_CACHE = frozenset({"sort", "reverse_sort", "bulk", "create_case"})
"""Keys that wait for the cache to be open (the queue shows its head until then)."""


def _view_bindings() -> list[BindingType]:
    return [
        Binding(
            str(number), f"view('{view.key}')", view.label, show=False, id=f"queue.view_{view.key}"
        )
        for number, view in enumerate(VIEWS, start=1)
    ]


class QueueScreen(DeskScreen):
    """Triage: pick a view, filter, sort, open a case."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="queue.filter"),
        Binding("s", "sort", "Sort", id="queue.sort"),
        Binding("S", "reverse_sort", "Reverse", id="queue.reverse"),
        Binding("a", "bulk('assign')", "Assign marked to me", id="queue.bulk_assign"),
        Binding("e", "bulk('escalate')", "Escalate marked", id="queue.bulk_escalate"),
        Binding("c", "bulk('comment')", "Comment on marked", id="queue.bulk_comment"),
        Binding("x", "bulk('close')", "Close marked", id="queue.bulk_close"),
        Binding("N", "create_case", "New case", id="queue.create"),
        *_view_bindings(),
    ]

    class Painted(Message):
        """The first frame is out (head or not): the cache may be opened now."""

    def __init__(
        self,
        service: CaseService | None,
        *,
        start_view: str = "all_open",
        head: QueueHead | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`service` None: paint `head` (if any) and wait for `attach`; `clock` is then the
        time to age the head's rows by."""
        super().__init__(service)
        self.view = start_view if start_view in VIEWS_BY_KEY else "all_open"
        self.start_view = self.view
        self.head = head
        self._clock = clock
        self._open_when_ready: UUID | None = None
        """A case chosen on the head's rows, opened once the cache is."""
        self.snapshot: QueueSnapshot | None = None
        self.filter_query: Query | None = None
        self.sort = "reference"
        self.reverse = False
        self._opened: CaseScreen | None = None
        self._filtered_text: str | None = None
        """The filter line's text the rows were last filtered for."""
        self._case_screen: CaseScreen | None = None
        """Built on the first open, then reused for every case (see `CaseScreen.show_cases`)."""

    def compose(self) -> ComposeResult:
        yield Tabs(
            *(
                Tab(f"{number} {view.label}", id=view.key)
                for number, view in enumerate(VIEWS, start=1)
            ),
            active=self.view,
            id="views",
        )
        yield FilterBar(id="filter", typed=self._filter_now)
        yield CaseTable(clock=self.now, id="cases")
        yield StatusBar()
        yield KeyFooter()

    @property
    def table(self) -> CaseTable:
        return self.query_one(CaseTable)

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        if self.ready:
            self.table.empty_text = "No cases in the cache yet — syncing…"
            self.reload()
        else:
            self.table.empty_text = "Opening the cache…"
            self._show_head()
            self.call_after_refresh(self.post_message, self.Painted())

    def now(self) -> datetime:
        if self.ready:
            return self.service.clock()
        return (self._clock or system_clock)()

    # -- data ------------------------------------------------------------------------

    def attach(self, service: CaseService) -> None:
        """The cache is open: show its rows in place of the head, the cursor kept."""
        self._service = service
        self.update_status()
        self.refresh_bindings()
        self.reload()

    def _show_head(self) -> None:
        head = self.head
        if head is None:
            return
        bar = self.status_bar
        bar.profile = head.status.profile
        bar.user = head.status.user
        bar.last_sync = head.status.last_sync
        bar.pending = head.status.pending
        bar.parked = head.status.parked
        bar.progress = "opening the cache…"
        self._show_counts(head.counts)
        self.apply()

    @work(exclusive=True, group="queue-snapshot")
    async def reload(self) -> None:
        """Take a fresh snapshot of the cache (off the event loop) and show it."""
        snapshot = await asyncio.to_thread(
            self.service.snapshot, sort=self.sort, reverse=self.reverse
        )
        self.snapshot = snapshot
        if self.filter_query is not None:
            # "me", unread and pending live in the context: re-bind the query to the new one.
            self.filter_query = self._parse(self.filter_query.text) or self.filter_query
        self._show_counts(snapshot.counts)
        self.apply()
        if self.head is not None:
            self.head = None
            self.status_bar.progress = ""
        if self._open_when_ready is not None:
            case_id, self._open_when_ready = self._open_when_ready, None
            self.open_case(case_id)
        self.call_after_refresh(settle_heap)
        self._keep_head(snapshot)

    def _keep_head(self, snapshot: QueueSnapshot) -> None:
        """What the next start paints first (see `domain.queue_head`), written off the loop."""
        self.run_worker(
            asyncio.to_thread(self.service.keep_queue_head, snapshot, view=self.start_view),
            group="queue-head",
            exclusive=True,
            exit_on_error=False,
        )

    def apply(self, keep: UUID | None = None) -> None:
        if self.snapshot is None:  # the cache is still opening
            self._apply_head(keep)
            return
        rows = self.snapshot.select(self.filter_query, self.view)
        if not rows:
            self.table.empty_text = (
                "No cases match." if self.snapshot.rows else "No cases in the cache yet."
            )
        context = self.snapshot.context
        self.table.set_rows(rows, unread=context.unread, pending=context.pending, keep=keep)
        self.table.set_sort(self.sort, self.reverse)

    def _apply_head(self, keep: UUID | None) -> None:
        """The head's rows while they are what the screen asks for (the start view, no
        filter); otherwise none, the table saying the cache is opening."""
        head = self.head
        if head is None or self.view != head.view or self.filter_query is not None:
            self.table.set_rows((), keep=keep)
        else:
            self.table.set_rows(head.rows, unread=head.unread, pending=head.pending, keep=keep)

    def _show_counts(self, counts: Mapping[str, int]) -> None:
        tabs = self.query_one(Tabs)
        for number, view in enumerate(VIEWS, start=1):
            count = counts.get(view.key, 0)
            tabs.query_one(f"#{view.key}", Tab).label = f"{number} {view.label} {count:,}"

    @on(CacheChanged)
    @on(ClockTicked)
    def _refresh(self) -> None:
        self.reload()

    # -- views, filter, sort ---------------------------------------------------------

    def action_view(self, key: str) -> None:
        self.query_one(Tabs).active = key

    @on(Tabs.TabActivated, "#views")
    def _view_chosen(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id != self.view:
            self.view = event.tab.id
            self.apply()
        self.table.focus()

    def action_filter(self) -> None:
        self.query_one(FilterBar).input.focus()

    def _parse(self, text: str) -> Query | None:
        context = self.snapshot.context if self.snapshot else None
        try:
            query = parse_query(text, context)
        except QueryError as error:
            pointer = f"at {error.position + 1}: {error.term}"
            self.query_one(FilterBar).show_error(f"{error.message} ({pointer})")
            return None
        self.query_one(FilterBar).show_error(None)
        return query

    @on(Input.Changed, "#filter-input")
    def _filter_typed(self, event: Input.Changed) -> None:
        if event.value != self._filtered_text:  # not already filtered as it was typed
            self._filter_now(event.value)

    def _filter_now(self, text: str) -> None:
        self._filtered_text = text
        query = self._parse(text)
        if query is not None:  # a bad query keeps the last good result on screen
            self.filter_query = query
            self.apply()

    @on(FilterBar.Left)
    def _filter_left(self) -> None:
        self.table.focus()
        self.table.set_cursor(0 if self.filter_query else self.table.cursor)

    def action_sort(self) -> None:
        position = SORTABLE.index(self.sort) if self.sort in SORTABLE else -1
        self.sort = SORTABLE[(position + 1) % len(SORTABLE)]
        self._resort()

    def action_reverse_sort(self) -> None:
        self.reverse = not self.reverse
        self._resort()

    def _resort(self) -> None:
        if self.snapshot is not None:
            keep = self.table.current_id
            self.snapshot = self.snapshot.sorted_by(self.sort, self.reverse)
            self.apply(keep=keep)
        self.notify(
            f"sorted by {self.sort} {'descending' if self.reverse else 'ascending'}",
            timeout=1.5,
            markup=False,
        )

    # -- rows ------------------------------------------------------------------------

    @on(CaseTable.MarksChanged)
    def _marks_changed(self, event: CaseTable.MarksChanged) -> None:
        self.status_bar.marked = event.count
        self.refresh_bindings()

    # -- bulk actions on marked rows -------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:  # noqa: ARG002
        """Bulk keys exist only while rows are marked; some keys wait for the cache."""
        if action in NEEDS_CACHE and not self.ready:
            return False
        if action == "bulk":
            return self.is_mounted and bool(self.table.marked)
        return True

    def action_bulk(self, kind: str) -> None:
        """Refuse up front what the user may not do, ask what the action needs, then queue."""
        from casedesk.domain.actions import AssignAction
        from casedesk.tui.bulk import cases, plan_bulk, refusals_text
        from casedesk.tui.screens.bulk import (
            BulkCloseDialog,
            BulkTextDialog,
            comment_builder,
            escalate_builder,
        )

        plan = plan_bulk(self.service, self.table.marked, ActionType(kind))
        if not plan.accepted:
            self.notify(
                f"Queued 0 of {plan.total}: {refusals_text(plan)}.",
                title="Nothing queued",
                severity="warning",
                markup=False,
            )
            return
        if plan.action is ActionType.ASSIGN:
            me = self.service.me()
            if me is not None:
                self.queue_bulk(plan, AssignAction(type=ActionType.ASSIGN, assignee_id=me.id))
        elif plan.action is ActionType.CLOSE:
            self.app.push_screen(BulkCloseDialog(plan=plan), lambda a: self._confirm_close(plan, a))
        else:
            escalate = plan.action is ActionType.ESCALATE
            dialog = BulkTextDialog(
                title=f"{'Escalate' if escalate else 'Comment on'} {cases(len(plan.accepted))}",
                field="Reason" if escalate else "Comment",
                limit=limits.ESCALATE_REASON_MAX if escalate else limits.COMMENT_BODY_MAX,
                plan=plan,
                build=escalate_builder if escalate else comment_builder,
            )
            self.app.push_screen(dialog, lambda action: self._queue_if(plan, action))

    def _queue_if(self, plan: BulkPlan, action: CaseAction | None) -> None:
        if action is not None:
            self.queue_bulk(plan, action)

    def _confirm_close(self, plan: BulkPlan, action: CaseAction | None) -> None:
        from casedesk.domain.actions import CloseAction
        from casedesk.tui.bulk import cases
        from casedesk.tui.widgets.confirm import ConfirmDialog

        if action is None:
            return
        count = len(plan.accepted)
        decision = action.decision.value if isinstance(action, CloseAction) else "none"
        question = (
            f'Close {cases(count)} with decision "{decision}"? '
            "Only a reviewer can reopen them, one by one."
        )
        self.app.push_screen(
            ConfirmDialog(question, confirm=f"Close {count}", danger=True),
            lambda yes: self._queue_if(plan, action if yes else None),
        )

    # Never exclusive: cancelling a worker mid-send would leave an item half sent.
    @work(group="bulk", exit_on_error=False)
    async def queue_bulk(self, plan: BulkPlan, action: CaseAction) -> None:
        """One outbox item per case, one push; then the summary, and the marks are cleared."""
        from casedesk.tui.bulk import run_bulk, summary
        from casedesk.tui.screens.outbox import announce_cache_changed

        outcome = await run_bulk(self.service, plan, action)
        self.table.clear_marks()
        announce_cache_changed(self.app)
        self.notify(
            summary(outcome),
            title=f"Bulk {plan.action.value}",
            severity="warning" if outcome.refused or outcome.parked else "information",
            timeout=12,
            markup=False,
        )

    # -- a new case --------------------------------------------------------------------

    def action_create_case(self) -> None:
        """The new-case form; what it returns is queued (and sent) through the outbox."""
        from casedesk.tui.forms.new_case import NewCaseForm

        self.app.push_screen(NewCaseForm(self.service), self._create_if)

    def _create_if(self, new_case: NewCase | None) -> None:
        if new_case is not None:
            self.create_case(new_case)

    # Never exclusive: cancelling a worker mid-send would leave an item half sent.
    @work(group="create-case", exit_on_error=False)
    async def create_case(self, new_case: NewCase) -> None:
        """Queue the case durably, forget the form's draft, send it, say what became of it."""
        from casedesk.tui.case_creation import queue_new_case
        from casedesk.tui.forms.new_case import FORM as NEW_CASE_FORM

        if await queue_new_case(self.app, self.service, new_case, draft=NEW_CASE_FORM):
            self.reload()

    @on(CaseTable.CaseChosen)
    def _case_chosen(self, event: CaseTable.CaseChosen) -> None:
        self.open_case(event.case_id)

    def open_case(self, case_id: UUID) -> None:
        """Open `case_id`; `n`/`p` there walk the rows of the current view."""
        if not self.ready:  # Enter on the head's rows: as soon as the cache is open
            self._open_when_ready = case_id
            self.status_bar.progress = "opening the cache… (the case opens next)"
            return
        from casedesk.tui.screens.case import CaseScreen

        table = self.table
        ids: Sequence[UUID] = RowIds(table.rows)
        if table.current_id == case_id:  # Enter on the cursor's row: no scan of 50,000 ids
            index = table.cursor
        elif case_id in ids:
            index = ids.index(case_id)
        else:
            ids, index = [case_id], 0
        screen = self._case_screen
        if screen is None or screen in self.app.screen_stack:
            screen = CaseScreen(self.service, case_ids=ids, index=index)
            if self._case_screen is None:
                self._case_screen = screen
                self.app.install_screen(screen, f"case-of-queue-{id(self)}")
        else:
            screen.show_cases(ids, index)
        self._opened = screen
        # Building or refilling the case screen allocates tens of thousands of short-lived
        # objects: the cyclic GC would run ~70 times before its first frame (~40 ms).
        gc_pause.pause()  # until the case screen's first frame is out
        self.app.push_screen(screen)

    def on_screen_resume(self) -> None:
        """Back from a case: the cursor on the last case looked at, its unread flag current.

        No new snapshot (a sync sends `CacheChanged` for that): only the chats read meanwhile
        lose their flag.
        """
        opened, self._opened = self._opened, None
        if opened is None or self.snapshot is None:
            return
        context = self.snapshot.context
        read = {case_id for case_id in opened.seen if case_id in context.unread}
        read = {case_id for case_id in read if not self.service.is_unread(case_id)}
        if read:
            unread = set(context.unread) - read  # type: ignore[call-overload]
            self.snapshot = replace(self.snapshot, context=replace(context, unread=unread))
        self.apply(keep=opened.case_id)
        self.call_after_refresh(settle_heap)


def settle_heap() -> None:
    """Collect what the last screen or snapshot left behind, then freeze the survivors.

    A full pass of the cyclic GC scans every tracked object that is not frozen: with a
    snapshot of thousands of rows and a case screen's widgets that is 50-300 ms, and it
    struck in the middle of keystrokes (research/perf-floors.md §7). Run between frames
    after a reload or a return from a case, it leaves the next passes almost nothing.
    """
    gc.collect()
    gc.freeze()
