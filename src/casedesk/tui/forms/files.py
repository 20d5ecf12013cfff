"""`FilePicker`: attach files to a comment by typing their paths, with completion.

Completion works as in a shell: the typed path's last part is completed to the
longest name it can be (a directory gets its `/`), shown greyed ahead of the
cursor; Tab (or →) takes it. Enter attaches the file — each one checked at once
for existence and size — or, when the path is already attached, removes it.
"""

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, Static


def complete_path(typed: str) -> str | None:
    """`typed` with its last part completed as far as the names in its directory agree.

    `None` when nothing can be added (no match, or the name is already complete).
    Names starting with `.` are offered only when the typed part starts with one.
    """
    if not typed:
        return None
    head, _, part = typed.rpartition("/")
    folder = Path(os.path.expanduser(head + "/" if head or typed.startswith("/") else "."))
    try:
        with os.scandir(folder) as entries:
            names = [
                (entry.name, entry.is_dir())
                for entry in entries
                if entry.name.startswith(part) and (part.startswith(".") or entry.name[0] != ".")
            ]
    except OSError:
        return None
    if not names:
        return None
    if len(names) == 1:
        name, is_dir = names[0]
        completed = name + ("/" if is_dir else "")
    else:
        # Names, not paths: the longest run of characters they all start with.
        completed = os.path.commonprefix([name for name, _ in names])  # noqa: RUF071
    if len(completed) <= len(part):
        return None
    return typed[: len(typed) - len(part)] + completed


class PathSuggester(Suggester):
    """Suggests `complete_path` of what is typed (never cached: files come and go)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


class PathInput(Input):
    """An input for a path: Tab takes the completion if there is one, else moves on."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete the path", show=False),
    ]

    def action_complete(self) -> None:
        completed = complete_path(self.value) if self.cursor_at_end else None
        if completed is None:
            self.screen.focus_next()
            return
        self.value = completed
        self.cursor_position = len(completed)


class FilePicker(Vertical):
    """Type a path, Enter attaches the file (or detaches it if attached); Enter on an empty
    input moves on. `check` says why a typed path cannot be attached (or `None`)."""

    class Changed(Message):
        """The attached files changed (or a path was refused): the form keeps its draft."""

        def __init__(self, picker: "FilePicker") -> None:
            super().__init__()
            self.picker = picker

    DEFAULT_CSS = """
    FilePicker {
        height: auto;
    }
    FilePicker > .file-picker--chosen {
        height: auto;
    }
    """

    def __init__(
        self,
        check: Callable[[str], str | None],
        *,
        limit: int,
        placeholder: str = "path of a file — Tab completes, Enter attaches",
    ) -> None:
        super().__init__()
        self.check = check
        self.limit = limit
        self.paths: list[str] = []
        self.input = PathInput(placeholder=placeholder, suggester=PathSuggester())
        self.chosen_line = Static("", classes="file-picker--chosen")
        self.problem: str | None = None
        """Why the last path typed was not attached (shown as the field's error)."""

    def compose(self) -> ComposeResult:
        yield self.input
        yield self.chosen_line

    def on_mount(self) -> None:
        self._paint()

    def set_paths(self, paths: Iterable[str]) -> None:
        """Attach these paths (a restored draft), as they were typed."""
        self.paths = list(dict.fromkeys(paths))
        self._paint()

    @property
    def unattached_text(self) -> str:
        """A path typed but not attached with Enter (the form says so rather than guess)."""
        return self.input.value.strip()

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        if not typed:
            return  # the form moves on
        event.stop()
        if typed in self.paths:
            self.paths.remove(typed)
            self.problem = None
        elif len(self.paths) >= self.limit:
            self.problem = f"At most {self.limit} files per comment."
        else:
            self.problem = self.check(typed)
            if self.problem is None:
                self.paths.append(typed)
        if self.problem is None:
            self.input.value = ""
        self._paint()
        self.post_message(self.Changed(self))

    def _paint(self) -> None:
        if not self.paths:
            self.chosen_line.update(Content.styled("No files attached.", "dim"))
            return
        lines = [
            Content.assemble((f"{number}. ", "dim"), Path(path).name, ("  " + path, "dim"))
            for number, path in enumerate(self.paths, 1)
        ]
        self.chosen_line.update(Content("\n").join(lines))
