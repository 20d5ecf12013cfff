"""`ActionForm`: the modal every case action is typed in.

A form names its case in its title, lays out `FormField`s, and on Ctrl+S (or
its Submit button) builds the action's domain model: every error the model
raises is shown under the field its path names and nothing leaves the form;
a valid action dismisses the form with it. The form never sends anything —
the case screen queues what it returns. What is typed is kept as a draft
(through the service) shortly after every change and on Esc, and restored when
the same form opens again on the same case; the case screen clears it once the
action is durably queued.
"""

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, RadioSet, SelectionList, Static, TextArea
from textual.worker import Worker, WorkerState

from casedesk.domain.actions import CaseAction
from casedesk.domain.case import Case
from casedesk.sync.service import CaseService, PendingAction
from casedesk.tui.forms.fields import FieldValue, FormField
from casedesk.tui.forms.people import UserPicker
from casedesk.tui.widgets.confirm import ConfirmDialog

DRAFT_DELAY = 0.4
DRAFT_GROUP = "form-draft"
"""Seconds of quiet typing before the draft is written (each write is fsynced)."""

KEYS_HINT = "Ctrl+S submit · Esc cancel (the draft is kept) · Tab / Shift+Tab move between fields"

ActionT = TypeVar("ActionT", bound=BaseModel)


class FormProblem(Exception):
    """Fields the form itself finds wrong (before the model is built): `(path, message)` pairs."""

    def __init__(self, *problems: tuple[str, str]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = list(problems)


def error_message(error: ErrorDetails) -> str:
    """A pydantic error as a reviewer reads it: what is wrong and what to do."""
    kind = error["type"]
    context: dict[str, Any] = dict(error.get("ctx") or {})
    given = error.get("input")
    if kind == "missing" or (kind == "string_too_short" and context.get("min_length") == 1):
        return "Required."
    if kind == "string_too_long":
        length = len(given) if isinstance(given, str) else "?"
        return f"Too long: {length} characters, at most {context.get('max_length')}."
    if kind == "too_long":
        return f"Too many: at most {context.get('max_length')}."
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def error_path(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"])


class ActionForm(ModalScreen[CaseAction | None]):
    """The base of every case action's form; subclasses lay out fields and build the action."""

    FORM: ClassVar[str] = ""
    """The form's name: its drafts are kept under (case id, this name)."""
    VERB: ClassVar[str] = ""
    """What the title says before the case: `Comment on`."""
    SUBMIT: ClassVar[str] = "Submit"
    """The label of the submit button."""
    KEEPS_DRAFT: ClassVar[bool] = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Submit", id="form.submit", priority=True),
        Binding("escape", "cancel", "Cancel (keeps the draft)", id="form.cancel"),
    ]

    DEFAULT_CSS = """
    ActionForm {
        align: center middle;
    }
    ActionForm > #form {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 95%;
    }
    ActionForm #form-fields {
        height: auto;
        max-height: 1fr;
    }
    ActionForm #form-buttons {
        height: auto;
    }
    ActionForm #form-error {
        display: none;
    }
    ActionForm #form-error.-shown {
        display: block;
    }
    """

    def __init__(self, service: CaseService, *, case: Case) -> None:
        super().__init__()
        self.service = service
        self.case = case
        self.submitted = False
        """Set on the first valid submit: a second Ctrl+S or Enter does nothing."""
        self.edited: PendingAction | None = None
        """The outbox item this form corrects (a parked action), if it does."""
        self._saved: dict[str, FieldValue] = {}
        self._latest: dict[str, FieldValue] | None = None
        self._draft_timer: Timer | None = None
        self._draft_lock = asyncio.Lock()

    def edit(self, pending: PendingAction) -> Self:
        """Open on an action already in the outbox: its fields as queued, the API's errors
        under the fields they name. Submitting replaces it (the case screen does that)."""
        self.edited = pending
        return self

    @property
    def draft_key(self) -> str:
        """Under which name the draft is kept: a correction has its own, apart from new text."""
        return self.FORM if self.edited is None else f"{self.FORM}@{self.edited.item_id}"

    # -- what subclasses provide -------------------------------------------------------

    def compose_fields(self) -> Iterable[FormField]:
        """The form's fields, in Tab order."""
        return ()

    def intro(self) -> Content | None:
        """A sentence above the fields (what is being decided), if any."""
        return None

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        """The action from the fields' values; raises `ValidationError` or `FormProblem`."""
        raise NotImplementedError

    def route(self, path: str) -> str:
        """The field an error path belongs to, when the wire's paths and the fields differ."""
        return path

    def confirmation(self, action: CaseAction) -> Content | None:  # noqa: ARG002
        """A question to answer before the action is returned (it names the case), if any."""
        return None

    # -- helpers for subclasses --------------------------------------------------------

    @staticmethod
    def model(model: type[ActionT], body: Mapping[str, object]) -> ActionT:
        """Validate `body` with the action's domain model (the API's own rules).

        Fields left as `None` are left out: an optional one takes its default, a
        required one is reported missing under its own path.
        """
        return model.model_validate(
            {key: value for key, value in body.items() if value is not None}
        )

    @staticmethod
    def optional_text(value: FieldValue) -> str | None:
        """A text that may be left empty: blank is "none"."""
        return value if isinstance(value, str) and value.strip() else None

    @staticmethod
    def text(value: FieldValue) -> str:
        return value if isinstance(value, str) else ""

    @staticmethod
    def ids(value: FieldValue) -> list[str]:
        return [str(item) for item in value] if isinstance(value, list) else []

    # -- layout ------------------------------------------------------------------------

    def title_content(self) -> Content:
        """`Comment on CAS-000142 — Acme Ltd`, the case's name taken literally."""
        title = Content.assemble(
            (self.VERB, "bold"), " ", (self.case.reference, "bold"), " — ", self.case.name
        )
        if self.edited is not None:
            title = Content.assemble(("Correct a refused action: ", "bold"), title)
        return title

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static(self.title_content(), id="form-title")
            intro = self.intro()
            if intro is not None:
                yield Static(intro, id="form-intro")
            with VerticalScroll(id="form-fields", can_focus=False):
                yield from self.compose_fields()
            yield Static("", id="form-error")
            with Horizontal(id="form-buttons"):
                yield Button(self.SUBMIT, id="form-submit", variant="primary")
                yield Button("Cancel", id="form-cancel")
            yield Static(KEYS_HINT, id="form-keys", markup=False)

    @property
    def fields(self) -> dict[str, FormField]:
        return {field.path: field for field in self.query(FormField)}

    def values(self) -> dict[str, FieldValue]:
        return {path: field.value for path, field in self.fields.items()}

    def on_mount(self) -> None:
        saved = self.service.draft(self.case.id, self.draft_key) if self.KEEPS_DRAFT else None
        if saved is None and self.edited is not None:
            saved = self.fields_of(self.edited.action)
        for path, field in self.fields.items():
            if saved and path in saved:
                field.set_value(saved[path])
        self._saved = self.values()
        if self.edited is not None:
            details = [(d.path, d.message) for d in self.edited.details]
            self.show_errors(details or [("", self.edited.reason or "Refused by the API.")])

    def fields_of(self, action: CaseAction) -> dict[str, FieldValue]:
        """The fields' values of an action as queued (people fields hold lists of ids)."""
        body = action.model_dump(mode="json", exclude_none=True)
        values: dict[str, FieldValue] = {}
        for path, field in self.fields.items():
            value = body.get(path)
            if value is None:
                continue
            if isinstance(field.editor, UserPicker):
                values[path] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            elif isinstance(value, str | bool | int | float):
                values[path] = value
        return values

    # -- drafts ------------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(RadioSet.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        if not self.KEEPS_DRAFT or self.submitted:
            return
        self._latest = self.values()
        if self._draft_timer is not None:
            self._draft_timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY, self._keep_draft_soon)

    def _keep_draft_soon(self) -> None:
        self.run_worker(self.keep_draft(), group=DRAFT_GROUP, exit_on_error=False)

    @on(Worker.StateChanged)
    def _draft_failed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == DRAFT_GROUP and event.state is WorkerState.ERROR:
            self.notify(
                f"Could not keep the draft of this form: {event.worker.error}",
                title="Draft",
                severity="error",
                markup=False,
            )

    async def on_unmount(self) -> None:
        """Leaving by any way (Ctrl+Q included) keeps what was typed since the last write.

        The fields may be gone already: what they last held was noted on each change.
        """
        self._stop_draft_timer()
        if not self.submitted and self._latest is not None:
            try:
                await self.keep_draft(self._latest)
            except Exception:  # the store may be closing with the app: the last write stands
                return

    async def keep_draft(self, values: dict[str, FieldValue] | None = None) -> None:
        """Write what the fields hold (now, or `values`) if it changed since the last write;
        a form emptied forgets its draft."""
        if not self.KEEPS_DRAFT:
            return
        async with self._draft_lock:
            values = self.values() if values is None else values
            if values == self._saved:
                return
            if all(value in (None, "", []) for value in values.values()):
                await self.service.clear_draft(self.case.id, self.draft_key)
            else:
                await self.service.save_draft(self.case.id, self.draft_key, values)
            self._saved = values

    def _stop_draft_timer(self) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None

    # -- submit and cancel -------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter in a one-line field moves on, as Tab would."""
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#form-submit")
    async def _submit_pressed(self) -> None:
        await self.action_submit()

    @on(Button.Pressed, "#form-cancel")
    async def _cancel_pressed(self) -> None:
        await self.action_cancel()

    async def action_cancel(self) -> None:
        """Close the form without acting; what is typed stays as the draft."""
        if self.submitted:
            return
        self._stop_draft_timer()
        await self.keep_draft()
        self.dismiss(None)

    async def action_submit(self) -> None:
        """Build the action; on errors show them by their fields, else return it (once)."""
        if self.submitted:
            return
        action = self.validate()
        if action is None:
            return
        self._lock(True)
        question = self.confirmation(action)
        if question is None:
            await self._finish(action)
            return

        async def answered(confirmed: bool | None) -> None:
            if confirmed:
                await self._finish(action)
            else:
                self._lock(False)

        self.app.push_screen(ConfirmDialog(question, confirm=self.SUBMIT), answered)

    def validate(self) -> CaseAction | None:
        """The action, or `None` with every error shown where it belongs."""
        for field in self.fields.values():
            field.clear_error()
        self._show_form_error([])
        try:
            return self.build(self.values())
        except FormProblem as problem:
            self.show_errors(problem.problems)
        except ValidationError as error:
            self.show_errors((error_path(e), error_message(e)) for e in error.errors())
        return None

    def show_errors(self, problems: Iterable[tuple[str, str]]) -> None:
        """Each message under the field its path names; the others above the buttons."""
        fields = self.fields
        unplaced: list[str] = []
        first: FormField | None = None
        for path, message in problems:
            field = self._field_for(self.route(path), fields)
            if field is None:
                unplaced.append(f"{path}: {message}" if path else message)
                continue
            if not field.invalid:
                field.show_error(message)
            first = first or field
        self._show_form_error(unplaced)
        if first is not None:
            first.editor.focus()
            first.scroll_visible()

    @staticmethod
    def _field_for(path: str, fields: Mapping[str, FormField]) -> FormField | None:
        """The field of `path` or of its nearest parent (`reviewer_ids.0` → `reviewer_ids`)."""
        parts = path.split(".")
        while parts:
            field = fields.get(".".join(parts))
            if field is not None:
                return field
            parts.pop()
        return None

    def _show_form_error(self, messages: list[str]) -> None:
        box = self.query_one("#form-error", Static)
        box.update(Content("\n".join(messages)))
        box.set_class(bool(messages), "-shown")

    def _lock(self, locked: bool) -> None:
        """Disable the form while its action is on its way (no second submit)."""
        self.submitted = locked
        self.query_one("#form-fields").disabled = locked
        self.query_one("#form-buttons").disabled = locked

    async def _finish(self, action: CaseAction) -> None:
        self._stop_draft_timer()
        await self.keep_draft()  # the draft holds the final text until the action is queued
        self.dismiss(action)
