"""`HelpScreen` (`?`): every key of the screen below, generated from its active bindings."""

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from casedesk.tui.widgets.case_table import FLAG_LEGEND


def _keys_table(screen: Screen[object]) -> Table:
    """One row per action of ours (bindings with an id), with every key that runs it."""
    keys_of: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.id is None or not binding.description or not active.enabled:
            continue
        keys_of.setdefault(binding.id, []).append(screen.app.get_key_display(Binding(key, "")))
        described[binding.id] = binding.description
    table = Table.grid(padding=(0, 3))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for binding_id, keys in keys_of.items():
        table.add_row(Text(" ".join(dict.fromkeys(keys))), Text(described[binding_id]))
    return table


class HelpScreen(ModalScreen[None]):
    """The keys of the screen it was opened over; Esc or `?` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 72;
        height: auto;
        max-height: 90%;
        border: round $primary;
        padding: 1 2;
        background: $surface;
    }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.table = _keys_table(under)
        self.title_text = f"Keys — {type(under).__name__.removesuffix('Screen')}"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(self.table)
            yield Static(Text(f"\nFlags: {FLAG_LEGEND}", style="dim"))
            yield Static(Text("Ctrl+P: find a case or run an action.  Ctrl+Q: quit.", style="dim"))
