"""Dialogs of the queue's bulk actions: one text for many cases, one decision for many cases.

Each validates with the domain's action model (limits from `casedesk.domain`)
and dismisses with the action, or `None` on Esc; it never queues anything
itself. The cases refused up front are named before the reviewer types.
"""

from collections.abc import Callable
from typing import ClassVar, TypeVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static, TextArea

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, CloseAction, CommentAction, EscalateAction
from casedesk.domain.enums import ActionType, Decision
from casedesk.tui.bulk import BulkPlan, cases, refusals_text

ActionT = TypeVar("ActionT", bound=CaseAction)

REFERENCES_SHOWN = 6

DECISIONS: tuple[tuple[Decision, str], ...] = (
    (Decision.APPROVE, "Approve"),
    (Decision.REJECT, "Reject"),
    (Decision.NONE, "Close without decision"),
)


def first_error(error: ValidationError) -> str:
    """The first problem pydantic found, in a sentence."""
    problem = error.errors()[0]
    return str(problem["msg"]).removeprefix("Value error, ")


def cases_line(plan: BulkPlan) -> Text:
    """`5 cases: CAS-000001, CAS-000002, … (2 refused: CAS-000003 (closed), …)`."""
    count = len(plan.accepted)
    names = ", ".join(t.reference for t in plan.accepted[:REFERENCES_SHOWN])
    if count > REFERENCES_SHOWN:
        names += f" and {count - REFERENCES_SHOWN} more"
    line = Text(f"{cases(count)}: {names}")
    if plan.refused:
        line.append(f"\nLeft out — {refusals_text(plan)}", style="italic")
    return line


def escalate_builder(text: str) -> CaseAction:
    return EscalateAction(type=ActionType.ESCALATE, reason=text)


def comment_builder(text: str) -> CaseAction:
    return CommentAction(type=ActionType.COMMENT, body=text)


class _BulkDialog(ModalScreen[ActionT | None]):
    """What both bulk dialogs share: Esc and Cancel dismiss, Submit submits, one error line."""

    def action_submit(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def refuse(self, message: str) -> None:
        """Say why the action cannot be queued; the dialog stays open."""
        self.query_one("#bulk-error", Static).update(Text(message))


class BulkTextDialog(_BulkDialog[CaseAction]):
    """One multi-line text (an escalation reason, a comment) for every marked case.

    A live `n/limit` counter; Ctrl+S (or the button) validates with the action model.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Queue for all", id="bulk.submit"),
        Binding("escape", "cancel", "Cancel", id="bulk.cancel"),
    ]

    DEFAULT_CSS = """
    BulkTextDialog {
        align: center middle;
    }
    BulkTextDialog > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        padding: 1 2;
    }
    BulkTextDialog TextArea {
        height: 8;
    }
    BulkTextDialog Horizontal {
        height: auto;
        align-horizontal: right;
    }
    BulkTextDialog Button {
        margin-left: 2;
    }
    """

    def __init__(
        self,
        *,
        title: str,
        field: str,
        limit: int,
        plan: BulkPlan,
        build: Callable[[str], CaseAction],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.field_label = field
        self.limit = limit
        self.plan = plan
        self.build = build

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(cases_line(self.plan), classes="dialog-hint")
            yield Label(Text(self.field_label))
            yield TextArea(id="bulk-text", soft_wrap=True, tab_behavior="focus")
            yield Static(Text(f"0/{self.limit}"), id="bulk-counter", classes="counter")
            yield Static(id="bulk-error", classes="field-error")
            with Horizontal():
                yield Button(Text("Cancel (Esc)"), id="cancel")
                yield Button(Text("Queue for all (Ctrl+S)"), id="submit", variant="primary")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(TextArea.Changed)
    def _typed(self) -> None:
        length = len(self.query_one(TextArea).text)
        counter = self.query_one("#bulk-counter", Static)
        counter.update(Text(f"{length}/{self.limit}"))
        counter.set_class(length > self.limit, "-over")
        self.query_one("#bulk-error", Static).update("")

    def action_submit(self) -> None:
        try:
            action = self.build(self.query_one(TextArea).text)
        except ValidationError as error:
            self.refuse(f"{self.field_label}: {first_error(error)}")
            return
        self.dismiss(action)


class BulkCloseDialog(_BulkDialog[CloseAction]):
    """One decision (and an optional comment) for closing every marked case."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Close them", id="bulk.submit"),
        Binding("escape", "cancel", "Cancel", id="bulk.cancel"),
    ]

    DEFAULT_CSS = """
    BulkCloseDialog {
        align: center middle;
    }
    BulkCloseDialog > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        padding: 1 2;
    }
    BulkCloseDialog Horizontal {
        height: auto;
        align-horizontal: right;
    }
    BulkCloseDialog Button {
        margin-left: 2;
    }
    """

    def __init__(self, *, plan: BulkPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        count = len(self.plan.accepted)
        with Vertical(classes="dialog"):
            yield Static(Text(f"Close {cases(count)}"), classes="dialog-title")
            yield Static(cases_line(self.plan), classes="dialog-hint")
            yield Label(Text("Decision"))
            with RadioSet(id="decision"):
                for decision, title in DECISIONS:
                    yield RadioButton(Text(title), id=f"decision-{decision.value}")
            yield Label(Text("Comment (optional, the same on every case)"))
            yield Input(id="close-comment", max_length=limits.DECISION_COMMENT_MAX)
            yield Static(id="bulk-error", classes="field-error")
            with Horizontal():
                yield Button(Text("Cancel (Esc)"), id="cancel")
                yield Button(Text("Close them (Ctrl+S)"), id="submit", variant="error")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    @property
    def decision(self) -> Decision | None:
        pressed = self.query_one(RadioSet).pressed_index
        return DECISIONS[pressed][0] if 0 <= pressed < len(DECISIONS) else None

    def choose(self, decision: Decision) -> None:
        """Press the button of `decision` (what arrow keys and Space do)."""
        self.query_one(f"#decision-{decision.value}", RadioButton).value = True

    @on(RadioSet.Changed)
    def _chosen(self) -> None:
        self.query_one("#bulk-error", Static).update("")

    @on(Input.Submitted, "#close-comment")
    def _comment_entered(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        decision = self.decision
        if decision is None:
            self.refuse("Decision: pick one.")
            self.query_one(RadioSet).focus()
            return
        comment = self.query_one(Input).value.strip()
        try:
            action = (
                CloseAction(type=ActionType.CLOSE, decision=decision, comment=comment)
                if comment
                else CloseAction(type=ActionType.CLOSE, decision=decision)
            )
        except ValidationError as error:
            self.refuse(f"Comment: {first_error(error)}")
            return
        self.dismiss(action)
