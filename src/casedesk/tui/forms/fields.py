"""`FormField`: one labelled field of a form — the editor, a live counter, a hint, its error.

The editor is a Textual widget (`TextArea`, `Input`, `RadioSet`, `SelectionList`), a
`UserPicker` or a `FilePicker`;
`FormField` reads and restores its value in one shape (`FieldValue`) so drafts
can keep it, and shows the error of the field path it stands for.
"""

from collections.abc import Iterable

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import (
    Input,
    Label,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
    TextArea,
)
from textual.widgets.selection_list import Selection

from casedesk.domain.records import Escalation
from casedesk.tui.forms.files import FilePicker
from casedesk.tui.forms.people import UserPicker

FieldValue = str | bool | int | float | list[str] | None
"""What a field holds, as a draft keeps it: text, a choice, a list of ids."""


def slug(path: str) -> str:
    """A widget id part for a field path (`escalations.0.note` → `escalations-0-note`)."""
    return path.replace(".", "-").replace("_", "-")


def text_area() -> TextArea:
    """A multi-line editor: Tab leaves it (never indents), lines wrap."""
    return TextArea(soft_wrap=True, tab_behavior="focus", show_line_numbers=False)


def choices(options: Iterable[tuple[str, str | Content]]) -> RadioSet:
    """One choice among `(value, label)` options, none chosen yet (labels taken literally)."""
    buttons = [
        RadioButton(label if isinstance(label, Content) else Content(label), name=value)
        for value, label in options
    ]
    return RadioSet(*buttons)


def escalation_label(escalation: Escalation) -> Content:
    """An escalation as a choice: its title, and its reason when that says more (literally)."""
    reason = escalation.reason.strip().splitlines()[0] if escalation.reason.strip() else ""
    if not reason or reason == escalation.title.strip():
        return Content.assemble((escalation.title, "bold"))
    return Content.assemble((escalation.title, "bold"), "  ", (reason[:70], "dim"))


def picker_problem(field: "FormField") -> tuple[str, str] | None:
    """Text typed in a person or file field but never picked: say so rather than guess."""
    editor = field.editor
    if isinstance(editor, UserPicker) and editor.unpicked_text:
        return (
            field.path,
            f"No one picked for “{editor.unpicked_text}”: "
            "choose from the list with ↓/↑ and Enter, or empty the field.",
        )
    if isinstance(editor, FilePicker) and editor.unattached_text:
        return (
            field.path,
            f"“{editor.unattached_text}” is typed but not attached: "
            "press Enter to attach it, or empty the field.",
        )
    return None


class FormField(Vertical):
    """A field of a form: label, editor, counter (`n/MAX`), hint and error, one under the other."""

    DEFAULT_CSS = """
    FormField {
        height: auto;
    }
    FormField > .form-field--error {
        display: none;
    }
    FormField.-invalid > .form-field--error {
        display: block;
    }
    """

    def __init__(
        self,
        path: str,
        label: str,
        editor: Widget,
        *,
        hint: str = "",
        limit: int | None = None,
        required: bool = False,
    ) -> None:
        super().__init__(id=f"field-{slug(path)}", classes="form-field")
        self.path = path
        """The field path the API's and the model's errors name (`reason`)."""
        self.label_text = label
        self.editor = editor
        self.hint = hint
        self.limit = limit
        self.required = required
        self.counter = Static("", classes="form-field--counter")
        self.error = Static("", classes="form-field--error")

    def compose(self) -> ComposeResult:
        mark = (" *", "bold") if self.required else ""
        yield Label(Content.assemble(self.label_text, mark), classes="form-field--label")
        yield self.editor
        if self.limit is not None:
            yield self.counter
        if self.hint:
            yield Static(Content(self.hint), classes="form-field--hint")
        yield self.error

    def on_mount(self) -> None:
        self.update_counter()

    # -- value -------------------------------------------------------------------------

    @property
    def value(self) -> FieldValue:
        """What the field holds now."""
        editor = self.editor
        if isinstance(editor, TextArea):
            return editor.text
        if isinstance(editor, Input):
            return editor.value
        if isinstance(editor, RadioSet):
            pressed = editor.pressed_button
            return pressed.name if pressed is not None else None
        if isinstance(editor, UserPicker):
            return [str(user_id) for user_id in editor.chosen]
        if isinstance(editor, FilePicker):
            return list(editor.paths)
        if isinstance(editor, SelectionList):
            return [str(value) for value in editor.selected]
        raise TypeError(f"no value for a {type(editor).__name__}")

    def set_value(self, value: FieldValue) -> None:
        """Show `value` (a restored draft); a value of the wrong shape is ignored."""
        editor = self.editor
        if isinstance(editor, TextArea) and isinstance(value, str):
            editor.load_text(value)
            editor.move_cursor(editor.document.end)
        elif isinstance(editor, Input) and isinstance(value, str):
            editor.value = value
        elif isinstance(editor, RadioSet) and isinstance(value, str):
            for button in editor.query(RadioButton):
                if button.name == value:
                    button.value = True
        elif isinstance(editor, UserPicker) and isinstance(value, list):
            editor.choose_ids(value)
        elif isinstance(editor, FilePicker) and isinstance(value, list):
            editor.set_paths(value)
        elif isinstance(editor, SelectionList) and isinstance(value, list):
            known = {
                str(option.value) for option in editor.options if isinstance(option, Selection)
            }
            editor.deselect_all()
            for item in value:
                if item in known:  # an escalation no longer active is not offered
                    editor.select(item)
        self.update_counter()

    @property
    def empty(self) -> bool:
        value = self.value
        return value is None or value == "" or value == []

    # -- counter and error -------------------------------------------------------------

    def update_counter(self) -> None:
        if self.limit is None:
            return
        value = self.value
        length = len(value) if isinstance(value, str) else 0
        self.counter.update(f"{length}/{self.limit}")
        self.counter.set_class(length > self.limit, "-over")

    @on(TextArea.Changed)
    @on(Input.Changed)
    def _typed(self) -> None:
        self.update_counter()  # the event goes on up: the form keeps the draft

    @on(FilePicker.Changed)
    def _files_changed(self, event: FilePicker.Changed) -> None:
        # The picker checks each path as it is attached: its verdict is this field's error.
        problem = event.picker.problem
        if problem is None:
            self.clear_error()
        else:
            self.show_error(problem)

    def show_error(self, message: str) -> None:
        self.error.update(Content(message))
        self.add_class("-invalid")

    def clear_error(self) -> None:
        self.error.update("")
        self.remove_class("-invalid")

    @property
    def invalid(self) -> bool:
        return self.has_class("-invalid")
