"""`CaseTabs`: Overview, Chat, Escalations, Overrides and Activity of one case."""

from uuid import UUID

from textual import on
from textual.containers import VerticalScroll
from textual.widgets import TabbedContent, TabPane

from casedesk.domain.enums import OverrideStatus
from casedesk.tui.widgets.case_chat import CaseChat
from casedesk.tui.widgets.case_format import CaseShown
from casedesk.tui.widgets.case_overview import CaseOverview
from casedesk.tui.widgets.case_records import CaseActivity, CaseEscalations, CaseOverrides
from casedesk.tui.widgets.case_section import CaseSection

TABS: tuple[tuple[str, str, type[CaseSection]], ...] = (
    ("overview", "Overview", CaseOverview),
    ("chat", "Chat", CaseChat),
    ("escalations", "Escalations", CaseEscalations),
    ("overrides", "Overrides", CaseOverrides),
    ("activity", "Activity", CaseActivity),
)
"""In the order of their keys `1`…`5`: (pane id, title, section)."""


class CaseTabs(TabbedContent):
    """One scrolling pane per part of the case; the chat opens on its newest message."""

    DEFAULT_CSS = """
    CaseTabs {
        height: 1fr;
    }
    CaseTabs TabPane {
        padding: 0;
        height: 1fr;
    }
    CaseTabs VerticalScroll {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(initial="overview", id=id)
        for number, (key, title, section) in enumerate(TABS, start=1):
            scroll = VerticalScroll(section(id=f"{key}-body"), id=f"{key}-scroll")
            self.compose_add_child(TabPane(f"{number} {title}", scroll, id=key))
        self._chat_seen: tuple[UUID, int] | None = None
        self._case_id: UUID | None = None

    def scroller(self, key: str) -> VerticalScroll:
        return self.query_one(f"#{key}-scroll", VerticalScroll)

    def show(self, shown: CaseShown) -> None:
        """Draw `shown` in every tab; a new case (or new messages) jumps the chat to its end."""
        for section in self.query(CaseSection):
            section.show(shown)
        self._count(shown)
        if shown.case.id != self._case_id:
            self._case_id = shown.case.id
            for key, _, _ in TABS:
                self.scroller(key).scroll_home(animate=False)
        messages = shown.view.messages
        seen = (shown.case.id, len(messages) if messages is not None else -1)
        if seen != self._chat_seen:
            self._chat_seen = seen
            self.scroll_chat()

    def forget_case(self) -> None:
        """Draw the next case as a new screen would: every tab at its top, the chat at its end."""
        self._case_id = None
        self._chat_seen = None

    def show_sentence(self, sentence: str) -> None:
        """Every tab says `sentence` (there is no case to draw)."""
        for section in self.query(CaseSection):
            section.show_sentence(sentence)

    def select(self, key: str) -> None:
        """Show the tab `key` and put the keyboard in it (arrows and PgUp/PgDn scroll it)."""
        self.active = key
        self.scroller(key).focus()

    def scroll_chat(self) -> None:
        """Bring the newest message into view and keep it there while the chat grows.

        Anchoring (rather than one `scroll_end`) survives the layout passes that follow a
        repaint, until the reviewer scrolls up themselves.
        """
        self.scroller("chat").anchor()

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "chat":
            self.scroll_chat()

    def _count(self, shown: CaseShown) -> None:
        view = shown.view
        counts: dict[str, str] = {}
        if view.messages is not None:
            counts["chat"] = str(len(view.messages))
        if view.escalations is not None:
            active = sum(1 for e in view.escalations if not e.is_completed)
            counts["escalations"] = _count(len(view.escalations), active, "open")
        if view.overrides is not None:
            pending = sum(1 for o in view.overrides if o.status is OverrideStatus.PENDING)
            counts["overrides"] = _count(len(view.overrides), pending, "pending")
        if view.actions is not None:
            counts["activity"] = str(len(view.actions))
        for number, (key, title, _) in enumerate(TABS, start=1):
            count = counts.get(key)
            text = f"{number} {title}" if count is None else f"{number} {title} ({count})"
            tab = self.get_tab(key)
            if str(tab.label) != text:
                tab.label = text


def _count(total: int, live: int, word: str) -> str:
    """`3` or `3, 2 open`."""
    return f"{total}, {live} {word}" if live else str(total)
