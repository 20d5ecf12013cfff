"""`FormScreen`: what every form shares — layout, keys, drafts, errors under fields.

Subclasses say what they are about (`title_content`, `compose_fields`, where their
draft is kept) and what a submit builds; the plumbing lives here once.
"""

import asyncio
from collections.abc import Iterable, Mapping
from typing import ClassVar, TypeVar
from uuid import UUID

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, RadioSet, SelectionList, Static, TextArea
from textual.worker import Worker, WorkerState

from casedesk.sync.service import CaseService
from casedesk.tui.forms.fields import FieldValue, FormField
from casedesk.tui.forms.files import FilePicker

DRAFT_DELAY = 0.4
"""Seconds of quiet typing before the draft is written (each write is fsynced)."""
DRAFT_GROUP = "form-draft"

KEYS_HINT = "Ctrl+S submit · Esc cancel (the draft is kept) · Tab / Shift+Tab move between fields"

ResultT = TypeVar("ResultT")


class FormScreen(ModalScreen[ResultT | None]):
    """A modal of `FormField`s: Ctrl+S submits, Esc cancels keeping the draft."""

    SUBMIT: ClassVar[str] = "Submit"
    """The label of the submit button."""
    KEEPS_DRAFT: ClassVar[bool] = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Submit", id="form.submit", priority=True),
        Binding("escape", "cancel", "Cancel (keeps the draft)", id="form.cancel"),
    ]

    DEFAULT_CSS = """
    FormScreen {
        align: center middle;
    }
    FormScreen > #form {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 95%;
    }
    FormScreen #form-fields {
        height: auto;
        max-height: 1fr;
    }
    FormScreen #form-buttons {
        height: auto;
    }
    FormScreen #form-error {
        display: none;
    }
    FormScreen #form-error.-shown {
        display: block;
    }
    """

    def __init__(self, service: CaseService) -> None:
        super().__init__()
        self.service = service
        self.submitted = False
        """Set on the first valid submit: a second Ctrl+S or Enter does nothing."""
        self._saved: dict[str, FieldValue] = {}
        self._latest: dict[str, FieldValue] | None = None
        self._draft_timer: Timer | None = None
        self._draft_lock = asyncio.Lock()

    # -- what a form is about ----------------------------------------------------------

    def title_content(self) -> Content:
        raise NotImplementedError

    def intro(self) -> Content | None:
        return None

    def compose_fields(self) -> Iterable[FormField]:
        raise NotImplementedError

    @property
    def draft_place(self) -> tuple[UUID | None, str]:
        """Where the draft is kept: (case id, or None for a new case; form name)."""
        raise NotImplementedError

    def typed(self, values: dict[str, FieldValue]) -> dict[str, FieldValue]:
        """The values that count as typed (a form holding none forgets its draft)."""
        return values

    async def action_submit(self) -> None:
        raise NotImplementedError

    # -- layout ------------------------------------------------------------------------

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

    # -- drafts ------------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(RadioSet.Changed)
    @on(SelectionList.SelectedChanged)
    @on(FilePicker.Changed)
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
        case_id, name = self.draft_place
        async with self._draft_lock:
            values = self.values() if values is None else values
            if values == self._saved:
                return
            if all(value in (None, "", []) for value in self.typed(values).values()):
                await self.service.clear_draft(case_id, name)
            else:
                await self.service.save_draft(case_id, name, values)
            self._saved = values

    def _stop_draft_timer(self) -> None:
        if self._draft_timer is not None:
            self._draft_timer.stop()
            self._draft_timer = None

    # -- keys, submit and cancel -------------------------------------------------------

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

    def _lock(self, locked: bool) -> None:
        """Disable the form while its result is on its way (no second submit)."""
        self.submitted = locked
        self.query_one("#form-fields").disabled = locked
        self.query_one("#form-buttons").disabled = locked

    async def _finish(self, result: ResultT) -> None:
        self._stop_draft_timer()
        await self.keep_draft()  # the draft holds the final text until the result is queued
        self.dismiss(result)

    # -- errors ------------------------------------------------------------------------

    def clear_errors(self) -> None:
        for field in self.fields.values():
            field.clear_error()
        self._show_form_error([])

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
