"""`CaseTable`: the queue, drawn with Textual's line API so only visible rows cost anything.

`DataTable` formats and measures every cell of every row when it is filled
(~150 µs a row: seconds at 50,000 cases, research/perf-floors.md §2); this
table keeps a reference to the rows and renders the ones on screen, so a
refill or a cursor move costs the same at 100 rows or 100,000.
"""

from collections.abc import Callable, Container, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, overload
from uuid import UUID

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from casedesk.domain.sla import countdown

Row = Any
"""A queue row: `id, reference, name, status, risk_tier, risk_score, sla_deadline, sla_status,
assignee_name, queue_name, updated_at, open_escalations_count, pending_override_id`."""


@dataclass(frozen=True)
class Column:
    key: str
    """The sort key the screen understands (`reference`, `sla`, …)."""
    title: str
    width: int
    """Cells; 0 = takes what the others leave."""
    align_right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("flags", "", 5),
    Column("reference", "Reference", 12),
    Column("name", "Name", 0),
    Column("status", "Status", 11),
    Column("risk", "Risk", 9),
    Column("sla", "SLA", 8, align_right=True),
    Column("assignee", "Assignee", 16),
    Column("queue", "Queue", 18),
    Column("updated", "Updated", 11),
)
SORTABLE: tuple[str, ...] = tuple(column.key for column in COLUMNS if column.key != "flags")
NAME_MIN = 12
STRIPS_KEPT = 512
"""Drawn rows kept for reuse (a few screenfuls)."""
GAP = 1

FLAG_UNREAD = "●"
FLAG_ESCALATED = "▲"
FLAG_OVERRIDE = "◆"
FLAG_PENDING = "↻"
FLAG_LEGEND = (
    f"{FLAG_UNREAD} unread chat  {FLAG_ESCALATED} open escalation  "
    f"{FLAG_OVERRIDE} pending override  {FLAG_PENDING} not yet synced"
)


class RowIds(Sequence[UUID]):
    """The ids of `rows`, read when asked for: opening a case among 50,000 rows copies none."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> UUID: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[UUID]: ...
    def __getitem__(self, index: int | slice) -> UUID | Sequence[UUID]:
        if isinstance(index, slice):
            return [row.id for row in self._rows[index]]
        case_id: UUID = self._rows[index].id
        return case_id


def _value(member: Any) -> str:
    """An enum member's wire value (rows may carry members or plain strings)."""
    return str(getattr(member, "value", member))


def _status_text(row: Row) -> str:
    return _value(row.status).replace("_", " ")


class CaseTable(ScrollView, can_focus=True):
    """The cases of the current view: one line each, a cursor, marks, a sortable header."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "cursor_down", "Down", show=False, id="queue.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="queue.up"),
        Binding("g,home", "first", "First", show=False, id="queue.first"),
        Binding("G,end", "last", "Last", show=False, id="queue.last"),
        Binding("pagedown", "page_down", "Page down", show=False, id="queue.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="queue.page_up"),
        Binding("enter", "choose", "Open", id="queue.open"),
        Binding("space", "toggle_mark", "Mark", id="queue.mark"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "case-table--header",
        "case-table--cursor",
        "case-table--marked",
        "case-table--muted",
        "case-table--on-track",
        "case-table--at-risk",
        "case-table--breached",
        "case-table--paused",
        "case-table--risk-high",
        "case-table--flags",
    }

    DEFAULT_CSS = """
    CaseTable {
        height: 1fr;
        overflow-x: hidden;
    }
    """

    class CaseChosen(Message):
        """The reviewer opened a case (Enter or double click)."""

        def __init__(self, case_id: UUID) -> None:
            super().__init__()
            self.case_id = case_id

    class MarksChanged(Message):
        """Rows were marked or unmarked; `count` are marked now."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class CursorMoved(Message):
        def __init__(self, case_id: UUID | None) -> None:
            super().__init__()
            self.case_id = case_id

    cursor: reactive[int] = reactive(0, repaint=False)

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._base: Style | None = None
        self._strips: dict[Hashable, Strip] = {}
        """Drawn rows by what they show: a scroll or a refill redraws mostly the same rows,
        and handing Textual the same `Strip` lets it reuse its own work on it too."""
        self._rows: Sequence[Row] = ()
        self._unread: Container[UUID] = frozenset()
        self._pending: Container[UUID] = frozenset()
        self.marked: set[UUID] = set()
        self.sort_key = "reference"
        self.sort_reverse = False
        self.empty_text = "No cases."

    # -- data ------------------------------------------------------------------------

    @property
    def rows(self) -> Sequence[Row]:
        return self._rows

    def set_rows(
        self,
        rows: Sequence[Row],
        *,
        unread: Container[UUID] = frozenset(),
        pending: Container[UUID] = frozenset(),
        keep: UUID | None = None,
    ) -> None:
        """Show `rows` (kept by reference, never copied), the cursor on `keep` if present."""
        current = keep if keep is not None else self.current_id
        self._rows = rows
        self._unread = unread
        self._pending = pending
        position = 0
        if current is not None:
            for index, row in enumerate(rows):
                if row.id == current:
                    position = index
                    break
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        self.set_cursor(position)
        self.refresh()

    @property
    def current(self) -> Row | None:
        if 0 <= self.cursor < len(self._rows):
            return self._rows[self.cursor]
        return None

    @property
    def current_id(self) -> UUID | None:
        row = self.current
        return None if row is None else row.id

    def set_sort(self, key: str, reverse: bool) -> None:
        self.sort_key = key
        self.sort_reverse = reverse
        self.refresh()

    # -- cursor ----------------------------------------------------------------------

    @property
    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def set_cursor(self, index: int) -> None:
        last = max(0, len(self._rows) - 1)
        before = self.cursor
        self.cursor = min(max(0, index), last)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
            self.refresh()
        elif self.cursor >= top + self._visible_rows:
            self.scroll_to(y=self.cursor - self._visible_rows + 1, animate=False)
            self.refresh()
        else:
            # No scroll: only the two lines whose highlight changed are drawn again.
            width = self.size.width
            for row in {before, self.cursor}:
                self.refresh(Region(0, row - top + 1, width, 1))
        self.post_message(self.CursorMoved(self.current_id))

    def action_cursor_down(self) -> None:
        self.set_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.set_cursor(self.cursor - 1)

    def action_first(self) -> None:
        self.set_cursor(0)

    def action_last(self) -> None:
        self.set_cursor(len(self._rows) - 1)

    def action_page_down(self) -> None:
        self.set_cursor(self.cursor + self._visible_rows)

    def action_page_up(self) -> None:
        self.set_cursor(self.cursor - self._visible_rows)

    def action_choose(self) -> None:
        if (case_id := self.current_id) is not None:
            self.post_message(self.CaseChosen(case_id))

    def action_toggle_mark(self) -> None:
        if (case_id := self.current_id) is None:
            return
        self.marked.symmetric_difference_update({case_id})
        self.post_message(self.MarksChanged(len(self.marked)))
        self.action_cursor_down()

    def clear_marks(self) -> None:
        self.marked.clear()
        self.post_message(self.MarksChanged(0))
        self.refresh()

    async def _on_click(self, event: events.Click) -> None:
        line = event.y - 1
        if line < 0:
            return
        index = round(self.scroll_y) + line
        if index < len(self._rows):
            self.set_cursor(index)
            if event.chain >= 2:
                self.action_choose()

    # -- drawing ---------------------------------------------------------------------

    def _widths(self, total: int) -> list[int]:
        fixed = sum(column.width for column in COLUMNS) + GAP * (len(COLUMNS) - 1)
        name = max(NAME_MIN, total - fixed)
        return [column.width or name for column in COLUMNS]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        base = self._base_style
        if y == 0:
            return self._header(widths, width, base)
        index = round(self.scroll_y) + y - 1
        if index >= len(self._rows):
            if index == 0 and not self._rows:
                muted = base + self.get_component_rich_style("case-table--muted")
                return Strip([Segment(set_cell_size(f" {self.empty_text}", width), muted)], width)
            return Strip.blank(width, base)
        return self._row_line(self._rows[index], index, widths, width, base)

    def _header(self, widths: list[int], width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("case-table--header")
        segments: list[Segment] = []
        for column, cell_width in zip(COLUMNS, widths, strict=True):
            title = column.title
            if column.key == self.sort_key:
                title = f"{title} {'▼' if self.sort_reverse else '▲'}"
            segments.append(Segment(self._fit(title, cell_width, column.align_right), style))
            segments.append(Segment(" " * GAP, style))
        return Strip(segments[:-1], width).adjust_cell_length(width, style)

    def _row_line(self, row: Row, index: int, widths: list[int], width: int, base: Style) -> Strip:
        cells = self._cells(row)
        marked = row.id in self.marked
        cursor = 0 if index != self.cursor else 1 if self.has_focus else 2
        sla_value = str(getattr(row.sla_status, "value", row.sla_status))
        high = str(getattr(row.risk_tier, "value", row.risk_tier)) == "high"
        key = (tuple(cells), marked, cursor, sla_value, high, tuple(widths), width, base)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) >= STRIPS_KEPT:
                self._strips.clear()
            strip = self._strips[key] = self._draw_row(
                cells, marked, cursor, sla_value, widths, width, base, high=high
            )
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # a theme or CSS change recolours every row
        self._base = None

    @property
    def _base_style(self) -> Style:
        """`rich_style`, worked out once per style change (not once per line drawn)."""
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def _draw_row(
        self,
        cells: list[str],
        marked: bool,
        cursor: int,
        sla_value: str,
        widths: list[int],
        width: int,
        base: Style,
        *,
        high: bool,
    ) -> Strip:
        style = base
        if marked:
            style = style + self.get_component_rich_style("case-table--marked")
        if cursor == 1:
            style = style + self.get_component_rich_style("case-table--cursor")
        elif cursor == 2:
            style = style + self.get_component_rich_style("case-table--marked")
        sla_class = f"case-table--{sla_value.replace('_', '-')}"
        segments: list[Segment] = []
        for column, cell_width, text in zip(COLUMNS, widths, cells, strict=True):
            cell_style = style
            if column.key == "sla":
                cell_style = style + self.get_component_rich_style(sla_class)
            elif column.key == "flags":
                cell_style = style + self.get_component_rich_style("case-table--flags")
            elif column.key == "risk" and high:
                cell_style = style + self.get_component_rich_style("case-table--risk-high")
            segments.append(Segment(self._fit(text, cell_width, column.align_right), cell_style))
            segments.append(Segment(" " * GAP, style))
        return Strip(segments[:-1], width).adjust_cell_length(width, style)

    def _cells(self, row: Row) -> list[str]:
        flags = (
            ("✓" if row.id in self.marked else " ")
            + (FLAG_UNREAD if row.id in self._unread else " ")
            + (FLAG_ESCALATED if row.open_escalations_count else " ")
            + (FLAG_OVERRIDE if row.pending_override_id is not None else " ")
            + (FLAG_PENDING if row.id in self._pending else " ")
        )
        now = self._clock()
        return [
            flags,
            row.reference,
            row.name,
            _status_text(row),
            f"{_value(row.risk_tier)} {row.risk_score}",
            countdown(row.sla_deadline, now),
            row.assignee_name or "—",
            row.queue_name,
            _ago(row.updated_at, now),
        ]

    @staticmethod
    def _fit(text: str, width: int, right: bool) -> str:
        # Tabs and newlines would move the terminal's cursor: one line, single spaces.
        flat = " ".join(text.split()) if "\n" in text or "\t" in text or "\r" in text else text
        if cell_len(flat) > width:
            return set_cell_size(flat, width - 1) + "…" if width > 1 else set_cell_size(flat, width)
        padding = " " * (width - cell_len(flat))
        return padding + flat if right else flat + padding

    def on_resize(self, _: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)


def _ago(moment: datetime | None, now: datetime) -> str:
    """`12m ago`, `3h ago`, `2d ago`, or the date for older changes."""
    if moment is None:
        return "—"
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)}m ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)}h ago"
    if seconds < 7 * 86_400:
        return f"{int(seconds // 86_400)}d ago"
    return f"{moment:%Y-%m-%d}"
