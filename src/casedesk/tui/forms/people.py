"""`UserPicker`: choose a person of the organization by typing part of a name or email."""

from collections.abc import Iterable, Sequence
from typing import ClassVar
from uuid import UUID

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from casedesk.domain.people import User

MATCHES_SHOWN = 6


def user_label(user: User) -> str:
    """`Jane Doe <jane@example.com>`: what the picker shows for a chosen person."""
    return f"{user.name} <{user.email}>"


def matching(users: Iterable[User], text: str) -> list[User]:
    """Users whose name or email contains `text` (any case), names starting with it first."""
    wanted = text.strip().casefold()
    if not wanted:
        return []
    found = [u for u in users if wanted in u.name.casefold() or wanted in u.email.casefold()]
    found.sort(key=lambda u: (not u.name.casefold().startswith(wanted), u.name.casefold()))
    return found


class UserPicker(Vertical):
    """Type part of a name or email; ↓/↑ move through the matches, Enter picks the highlighted one.

    With `multiple`, Enter adds the person to the chosen ones (or removes them if
    already chosen) and the input empties for the next name; Enter on an empty
    input moves on. Alone, the pick shows in the input; editing it unpicks.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "move(1)", "Next match", show=False),
        Binding("up", "move(-1)", "Previous match", show=False),
    ]

    DEFAULT_CSS = """
    UserPicker {
        height: auto;
    }
    UserPicker > OptionList {
        display: none;
        max-height: 8;
    }
    UserPicker.-open > OptionList {
        display: block;
    }
    UserPicker > .user-picker--chosen {
        height: auto;
    }
    """

    def __init__(
        self,
        users: Sequence[User],
        *,
        multiple: bool = False,
        placeholder: str = "type part of a name or email",
    ) -> None:
        super().__init__()
        self.users = list(users)
        self.multiple = multiple
        self.chosen: list[UUID] = []
        self.input = Input(placeholder=placeholder)
        self.options = OptionList()
        self.options.can_focus = False
        self.chosen_line = Static("", classes="user-picker--chosen")
        self._shown: list[User] = []

    def compose(self) -> ComposeResult:
        yield self.input
        yield self.options
        if self.multiple:
            yield self.chosen_line

    def on_mount(self) -> None:
        self._paint_chosen()

    # -- what is chosen ----------------------------------------------------------------

    def user(self, user_id: UUID) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def choose_ids(self, ids: Iterable[str]) -> None:
        """Choose these users (a restored draft); unknown ids are dropped."""
        known = {str(u.id): u.id for u in self.users}
        self.chosen = [known[i] for i in ids if i in known]
        if not self.multiple:
            self.chosen = self.chosen[:1]
            first = self.user(self.chosen[0]) if self.chosen else None
            self.input.value = user_label(first) if first else ""
        self._paint_chosen()

    @property
    def unpicked_text(self) -> str:
        """Text typed but not turned into a pick (the form refuses to guess)."""
        text = self.input.value.strip()
        if not text:
            return ""
        if self.multiple or not self.chosen:
            return text
        return ""

    def _paint_chosen(self) -> None:
        if not self.multiple:
            return
        names = [user_label(u) for u in (self.user(i) for i in self.chosen) if u is not None]
        shown = ", ".join(names) if names else "nobody chosen yet"
        self.chosen_line.update(Content.assemble(("Chosen: ", "dim"), shown))

    # -- typing and picking ------------------------------------------------------------

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        text = event.value
        if not self.multiple and self.chosen:
            picked = self.user(self.chosen[0])
            if picked is not None and text == user_label(picked):
                self._show_matches([])
                return
            self.chosen = []  # the reviewer edits the pick: it no longer holds
        self._show_matches(matching(self.users, text)[:MATCHES_SHOWN])

    def _show_matches(self, users: list[User]) -> None:
        self._shown = users
        self.options.clear_options()
        self.options.add_options(
            Option(Content.assemble((u.name, "bold"), "  ", (u.email, "dim"))) for u in users
        )
        if users:
            self.options.highlighted = 0
        self.set_class(bool(users), "-open")

    def action_move(self, step: int) -> None:
        if not self._shown:
            return
        current = self.options.highlighted or 0
        self.options.highlighted = max(0, min(len(self._shown) - 1, current + step))

    @on(Input.Submitted)
    def _entered(self, event: Input.Submitted) -> None:
        """Enter picks the highlighted match; with nothing to pick it moves on (the form's job)."""
        index = self.options.highlighted
        if not self._shown or index is None:
            return
        user = self._shown[index]
        if self.multiple:
            event.stop()  # stay: another name may follow
            if user.id in self.chosen:
                self.chosen.remove(user.id)
            else:
                self.chosen.append(user.id)
            self.input.value = ""
            self._paint_chosen()  # emptying the input tells the form: it keeps the draft
        else:
            self.chosen = [user.id]
            self.input.value = user_label(user)
        self._show_matches([])
