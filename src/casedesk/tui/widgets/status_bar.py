"""`StatusBar`: profile and user, online/offline, last sync, progress, outbox counts, marks."""

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Static):
    """One line at the bottom of every screen: what state the console and its sync are in."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
    }
    """

    profile: reactive[str] = reactive("")
    user: reactive[str] = reactive("")
    online: reactive[bool | None] = reactive(None)
    last_sync: reactive[datetime | None] = reactive(None)
    progress: reactive[str] = reactive("")
    pending: reactive[int] = reactive(0)
    parked: reactive[int] = reactive(0)
    marked: reactive[int] = reactive(0)
    note: reactive[str] = reactive("")

    @staticmethod
    def _one_line(text: str) -> str:
        """A server string on the one-line bar: a line break would hide all that follows."""
        return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())

    def render(self) -> Text:
        # Built as Text pieces: names come from the server and are never markup.
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {self.profile} ", style="bold")
        if self.user:
            line.append(f"{self._one_line(self.user)}  ")
        if self.online is None:
            line.append("○ not connected yet", style="dim")
        elif self.online:
            line.append("● online", style="green")
        else:
            line.append("● offline", style="bold red")
        synced = self.last_sync.astimezone().strftime("%H:%M") if self.last_sync else "never"
        line.append(f"  synced {synced}")
        if self.progress:
            line.append(f"  {self.progress}", style="italic")
        line.append(f"  outbox {self.pending} pending")
        if self.parked:
            line.append(f", {self.parked} parked", style="bold yellow")
        if self.marked:
            line.append(f"  {self.marked} marked", style="bold")
        if self.note:
            line.append(f"  {self._one_line(self.note)}", style="dim")
        return line
