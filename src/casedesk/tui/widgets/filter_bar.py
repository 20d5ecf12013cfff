"""`FilterBar`: the queue's filter line, with completion and an error line under it."""

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Static

from casedesk.domain.query import completions


class QuerySuggester(Suggester):
    """Completes the word being typed: a field name, then one of its values."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or value.endswith(" "):
            return None
        candidates = completions(value)
        if not candidates:
            return None
        head, _, word = value.rpartition(" ")
        sign = "-" if word.startswith("-") else ""
        bare = word.lstrip("-")
        if ":" in bare:
            field, _, typed = bare.partition(":")
            done, _, _ = typed.rpartition(",")
            prefix = f"{field}:{done + ',' if done else ''}"
            word = f"{sign}{prefix}{candidates[0]}"
        else:
            word = f"{sign}{candidates[0]}"
        suggestion = f"{head} {word}" if head else word
        return suggestion if suggestion != value else None


class QueryInput(Input):
    """The filter's `Input`: it hands each new value to `typed` in the turn of the key.

    `Input.Changed` travels up through two message queues, and the screen paints the
    typed character in between; the rows that follow it then wait for Textual's next
    frame slot (17-33 ms). Filtering in the same turn puts both in the first frame.
    """

    def __init__(self, *, typed: Callable[[str], None] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._typed = typed

    def watch_value(self, value: str) -> None:
        if self._typed is not None:
            self._typed(value)


class FilterBar(Vertical):
    """`/` focuses it; typing filters as you go; Enter goes to the rows; Esc clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear", "Clear filter", id="filter.clear"),
        Binding("down", "leave", "To the rows", show=False, id="filter.leave"),
    ]

    DEFAULT_CSS = """
    FilterBar {
        height: auto;
    }
    FilterBar > #filter-error {
        height: auto;
        display: none;
    }
    FilterBar.-invalid > #filter-error {
        display: block;
    }
    """

    class Left(Message):
        """The reviewer is done with the filter (Enter / Esc / ↓): focus the rows."""

    _error: str | None = None
    """The error line as shown (None: hidden)."""

    def __init__(
        self, *, typed: Callable[[str], None] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._typed = typed
        """Called with each new text as it is typed (before `Input.Changed` arrives)."""

    def compose(self) -> ComposeResult:
        yield QueryInput(
            typed=self._typed,
            placeholder="/ filter — status:open risk:high sla:breached assignee:me tag:pep "
            'queue:"Business Onboarding" text…',
            suggester=QuerySuggester(),
            id="filter-input",
        )
        yield Static("", id="filter-error", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def show_error(self, message: str | None) -> None:
        # Every keystroke calls this: an unchanged line is left alone, as updating it
        # lays the whole screen out again (a frame of its own, ~15 ms at 160x50).
        if message == self._error:
            return
        self._error = message
        self.set_class(message is not None, "-invalid")
        self.query_one("#filter-error", Static).update(Text(message or ""))

    def action_clear(self) -> None:
        self.input.value = ""
        self.post_message(self.Left())

    def action_leave(self) -> None:
        self.post_message(self.Left())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Left())
