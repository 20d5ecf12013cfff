"""`CaseSection`: the base of every part of the case screen that draws one case.

A section keeps the `CaseShown` it was given and builds a Rich renderable from
it on render, out of `Text` pieces only: server text is never parsed as
markup. Colours come from component classes, styled in `styles/case.tcss` with
the theme's variables, so they follow the dark and light themes.
"""

from typing import ClassVar

from rich.console import RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from casedesk.tui.widgets.case_format import CaseShown

TONES = ("label", "muted", "heading", "strong", "good", "warn", "bad", "accent", "notice")


class CaseSection(Widget):
    """Draws one case (or a part of it); `show()` gives it the case to draw."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"case--{tone}" for tone in TONES}

    DEFAULT_CSS = """
    CaseSection {
        height: auto;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.shown: CaseShown | None = None
        self.sentence = ""
        self._drawn: tuple[int, list[Strip]] | None = None
        """The lines last drawn and the width they were drawn for."""

    def show(self, shown: CaseShown) -> None:
        """Draw `shown` from now on."""
        self.shown = shown
        self._redraw()

    def show_sentence(self, sentence: str) -> None:
        """Draw one sentence instead of a case (e.g. the case left the cache)."""
        self.shown = None
        self.sentence = sentence
        self._redraw()

    def render(self) -> RenderableType:
        if self.shown is None:
            return self.notice(self.sentence)
        return self.build(self.shown)

    # -- drawn once per case and width ------------------------------------------------
    # Textual lays a widget of `height: auto` out twice: once to learn its height, once to
    # draw it. Rich tables are laid out anew each time; drawing the lines once and
    # counting those halves the cost of showing a case.

    def _redraw(self) -> None:
        self._drawn = None
        self.refresh(layout=True)

    def _lines(self, width: int) -> list[Strip]:
        if self._drawn is None or self._drawn[0] != width:
            visual = self._render()
            lines = Visual.to_strips(self, visual, width, None, self.visual_style)
            self._drawn = (width, lines)
        return self._drawn[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:  # noqa: ARG002
        return len(self._lines(width)) if width else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._lines(width)
        return lines[y] if y < len(lines) else Strip.blank(width, self.visual_style.rich_style)

    def notify_style_update(self) -> None:
        """The theme (or a class) changed: the tones are other colours now."""
        super().notify_style_update()
        self._drawn = None

    def build(self, shown: CaseShown) -> RenderableType:
        """The renderable of `shown`; every piece of server text is a `Text`."""
        raise NotImplementedError

    # -- pieces ----------------------------------------------------------------------

    def tone(self, name: str) -> Style:
        """The Rich style of a tone (`muted`, `bad`, …) in the current theme."""
        if not name:
            return Style.null()
        # Not partial: `$text-muted` is an `auto` colour, computed against the background.
        return self.get_component_rich_style(f"case--{name}")

    def text(self, value: str, tone: str = "") -> Text:
        """`value` literally, in `tone`."""
        return Text(value, style=self.tone(tone))

    def line(self, *parts: tuple[str, str] | str) -> Text:
        """Literal pieces, each plain or `(text, tone)`, on one line."""
        line = Text()
        for part in parts:
            if isinstance(part, str):
                line.append(part)
            else:
                line.append(part[0], style=self.tone(part[1]))
        return line

    def heading(self, title: str, count: int | None = None) -> Text:
        heading = self.text(title, "heading")
        if count is not None:
            heading.append(f"  {count}", style=self.tone("muted"))
        return heading

    def notice(self, sentence: str) -> Text:
        """A sentence in place of a list: never fetched, or empty."""
        return self.text(sentence, "notice")

    def fields(self, rows: list[tuple[str, Text]], *, label_width: int = 18) -> Table:
        """Label / value pairs, the values wrapping in their own column."""
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=label_width, no_wrap=True)
        grid.add_column(ratio=1)
        for name, value in rows:
            grid.add_row(self.text(name, "label"), value)
        return grid
