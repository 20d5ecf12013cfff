"""The outbox screen's dialog with an item's full details."""

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class ItemDetailsDialog(ModalScreen[None]):
    """One outbox item in full: state, attempts, the API's error with its fields, the body."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close", id="outbox_item.close"),
    ]

    DEFAULT_CSS = """
    ItemDetailsDialog {
        align: center middle;
    }
    ItemDetailsDialog > VerticalScroll {
        width: 100;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
    }
    """

    def __init__(self, title: str, report: Text) -> None:
        super().__init__()
        self.title_text = title
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), id="item-title")
            yield Static(self.report, id="item-report")
            yield Static(Text("Esc: close", style="dim"))
