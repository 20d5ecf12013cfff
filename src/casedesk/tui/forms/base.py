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

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from textual.content import Content

from casedesk.domain.actions import CaseAction
from casedesk.domain.case import Case
from casedesk.sync.service import CaseService, PendingAction
from casedesk.tui.forms.fields import FieldValue, FormField
from casedesk.tui.forms.people import UserPicker
from casedesk.tui.forms.screen import FormScreen
from casedesk.tui.widgets.confirm import ConfirmDialog

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


class ActionForm(FormScreen[CaseAction]):
    """The base of every case action's form; subclasses lay out fields and build the action."""

    FORM: ClassVar[str] = ""
    """The form's name: its drafts are kept under (case id, this name)."""
    VERB: ClassVar[str] = ""
    """What the title says before the case: `Comment on`."""

    def __init__(self, service: CaseService, *, case: Case) -> None:
        super().__init__(service)
        self.case = case
        self.edited: PendingAction | None = None
        """The outbox item this form corrects (a parked action), if it does."""

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

    @property
    def draft_place(self) -> tuple[UUID | None, str]:
        return self.case.id, self.draft_key

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

    async def prepare(self, action: CaseAction) -> CaseAction:
        """The action as queued, once the reviewer is sure (a comment's files copied in).

        Raises `FormProblem` if it cannot be: the form stays open with the errors shown.
        """
        return action

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
            await self._prepare_and_finish(action)
            return

        async def answered(confirmed: bool | None) -> None:
            if confirmed:
                await self._prepare_and_finish(action)
            else:
                self._lock(False)

        self.app.push_screen(ConfirmDialog(question, confirm=self.SUBMIT), answered)

    async def _prepare_and_finish(self, action: CaseAction) -> None:
        try:
            prepared = await self.prepare(action)
        except FormProblem as problem:
            self._lock(False)
            self.show_errors(problem.problems)
            return
        await self._finish(prepared)

    def validate(self) -> CaseAction | None:
        """The action, or `None` with every error shown where it belongs."""
        self.clear_errors()
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
