"""`OutboxTable`: the actions not yet acknowledged by the API, one row each."""

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from casedesk.tui.widgets.outbox_format import (
    OutboxEntry,
    age,
    case_label,
    error_message,
    error_paths,
    is_parked,
    next_try,
    state_label,
)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("case", "Case"),
    ("action", "Action"),
    ("age", "Age"),
    ("attempts", "Tries"),
    ("next", "Next try"),
    ("state", "State"),
    ("fields", "Fields"),
    ("error", "Last error"),
)
"""Key and title of each column; each is as wide as its content, the error takes the rest."""
FIELDS_MAX = 32
ERROR_MIN = 20


class OutboxTable(DataTable[Text]):
    """Pending, sending and parked items; the cursor stays on its item across refreshes.

    Every cell is `Text`: an error message or a reference is never parsed as markup.
    A long error is cut to the width left for it; Enter shows it whole.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", id="outbox.details"),
    ]

    DEFAULT_CSS = """
    OutboxTable {
        height: 1fr;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._items: dict[str, OutboxEntry] = {}
        self._now: datetime | None = None

    @property
    def current(self) -> OutboxEntry | None:
        """The item under the cursor."""
        if not self._items or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._items.get(key or "")

    def item(self, item_id: UUID) -> OutboxEntry | None:
        return self._items.get(str(item_id))

    def show(self, items: Sequence[OutboxEntry], now: datetime) -> None:
        """Show `items`, the cursor staying on the same item while it is there."""
        current = self.current
        keep = str(current.id) if current is not None else None
        position = self.cursor_row
        rows = [_cells(item, now) for item in items]
        widths = [
            max([len(title), *(row[index].cell_len for row in rows)])
            for index, (_, title) in enumerate(COLUMNS)
        ]
        widths[-2] = min(widths[-2], FIELDS_MAX)
        used = sum(widths[:-1]) + 2 * self.cell_padding * len(COLUMNS)
        widths[-1] = max(ERROR_MIN, min(widths[-1], self.scrollable_content_region.width - used))
        self.clear(columns=True)
        for (key, title), width in zip(COLUMNS, widths, strict=True):
            self.add_column(title, key=key, width=width)
        for item, row in zip(items, rows, strict=True):
            row[-2].truncate(widths[-2], overflow="ellipsis")
            row[-1].truncate(widths[-1], overflow="ellipsis")
            self.add_row(*row, key=str(item.id))
        self._items = {str(item.id): item for item in items}
        self._now = now
        if not items:
            return
        if keep is not None and keep in self._items:
            position = self.get_row_index(keep)
        self.move_cursor(row=max(0, min(position, self.row_count - 1)), animate=False)

    def on_resize(self) -> None:
        if self._now is not None:
            self.show(list(self._items.values()), self._now)


def _cells(item: OutboxEntry, now: datetime) -> list[Text]:
    state_style = "bold yellow" if is_parked(item) else "cyan"
    error_style = "red" if is_parked(item) else "dim"
    return [
        Text(case_label(item), no_wrap=True),
        Text(item.type.replace("_", " "), no_wrap=True),
        Text(age(item.created_at, now), no_wrap=True),
        Text(str(item.attempts), justify="right"),
        Text(next_try(item, now), no_wrap=True),
        Text(state_label(item), style=state_style, no_wrap=True),
        Text(", ".join(error_paths(item)), style=error_style, no_wrap=True),
        Text(error_message(item), style=error_style, no_wrap=True),
    ]
