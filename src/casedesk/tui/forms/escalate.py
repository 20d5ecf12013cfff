"""`EscalateForm` (`e`) and `CompleteEscalationForm` (`C` on the Escalations tab)."""

from collections.abc import Iterable, Mapping, Sequence

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, CompleteEscalationAction, EscalateAction
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType
from casedesk.domain.people import User
from casedesk.domain.records import Escalation
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import ActionForm, FormProblem
from casedesk.tui.forms.fields import (
    FieldValue,
    FormField,
    choices,
    escalation_label,
    picker_problem,
    text_area,
)
from casedesk.tui.forms.people import UserPicker


class EscalateForm(ActionForm):
    """Why the case needs more eyes, and (optionally) whose."""

    FORM = "escalate"
    VERB = "Escalate"
    SUBMIT = "Escalate case"

    def __init__(self, service: CaseService, *, case: Case, users: Sequence[User]) -> None:
        super().__init__(service, case=case)
        self.users = list(users)

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "reason", "Reason", text_area(), limit=limits.ESCALATE_REASON_MAX, required=True
        )
        yield FormField(
            "escalate_to",
            "Escalate to (optional)",
            UserPicker(self.users),
            hint="Type part of a name or email; ↓/↑ and Enter pick.",
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        problem = picker_problem(self.fields["escalate_to"])
        if problem is not None:
            raise FormProblem(problem)
        chosen = self.ids(values["escalate_to"])
        body = {
            "type": ActionType.ESCALATE,
            "reason": self.text(values["reason"]),
            "escalate_to": chosen[0] if chosen else None,
        }
        return self.model(EscalateAction, body)


class CompleteEscalationForm(ActionForm):
    """Mark one of the case's active escalations done, with an optional note."""

    FORM = "complete_escalation"
    VERB = "Complete an escalation of"
    SUBMIT = "Complete escalation"

    def __init__(
        self, service: CaseService, *, case: Case, escalations: Sequence[Escalation]
    ) -> None:
        super().__init__(service, case=case)
        self.escalations = [e for e in escalations if not e.is_completed]

    def compose_fields(self) -> Iterable[FormField]:
        options = [(str(e.id), escalation_label(e)) for e in self.escalations]
        picked = choices(options)
        yield FormField("escalation_id", "Escalation", picked, required=True)
        yield FormField("note", "Note (optional)", text_area(), limit=limits.ESCALATION_NOTE_MAX)

    def on_mount(self) -> None:
        super().on_mount()
        field = self.fields["escalation_id"]
        if field.empty and len(self.escalations) == 1:
            field.set_value(str(self.escalations[0].id))
            self._saved = self.values()

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        body = {
            "type": ActionType.COMPLETE_ESCALATION,
            "escalation_id": values["escalation_id"],
            "note": self.optional_text(values["note"]),
        }
        return self.model(CompleteEscalationAction, body)
