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
    error_summary,
    is_parked,
    next_try,
    state_label,
)

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("case", "Case", 12),
    ("action", "Action", 20),
    ("age", "Age", 9),
    ("attempts", "Tries", 5),
    ("next", "Next try", 22),
    ("state", "State", 26),
    ("error", "Last error", None),
)


class OutboxTable(DataTable[Text]):
    """Pending, sending and parked items; the cursor stays on its item across refreshes.

    Every cell is `Text`: an error message or a reference is never parsed as markup.
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

    def on_mount(self) -> None:
        for key, title, width in COLUMNS:
            self.add_column(title, key=key, width=width)

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
        self.clear()
        self._items = {str(item.id): item for item in items}
        for item in items:
            self.add_row(*_cells(item, now), key=str(item.id))
        if not items:
            return
        if keep is not None and keep in self._items:
            position = self.get_row_index(keep)
        self.move_cursor(row=max(0, min(position, self.row_count - 1)), animate=False)


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
        Text(error_summary(item), style=error_style, no_wrap=True, overflow="ellipsis"),
    ]
