"""`CaseScreen`: everything about one case (placeholder until the case screen lands)."""

from typing import ClassVar
from uuid import UUID

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from casedesk.sync.service import CaseService
from casedesk.tui.screens.base import DeskScreen
from casedesk.tui.widgets.status_bar import StatusBar


class CaseScreen(DeskScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="case.back"),
    ]

    def __init__(self, service: CaseService, *, case_ids: list[UUID], index: int) -> None:
        super().__init__(service)
        self.case_ids = case_ids
        self.index = index

    def compose(self) -> ComposeResult:
        details = self.service.case(str(self.case_ids[self.index]))
        yield Static(Text(details.case.name if details else "?"))
        yield StatusBar()
        yield Footer()

    def action_back(self) -> None:
        self.app.pop_screen()
