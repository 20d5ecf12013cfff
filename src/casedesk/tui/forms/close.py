"""`CloseForm` (`x`): close a case with a decision, after a confirmation that names it."""

from collections.abc import Iterable, Mapping

from textual.content import Content

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, CloseAction
from casedesk.domain.enums import ActionType, Decision
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.fields import FieldValue, FormField, choices, text_area

DECISIONS = [
    (Decision.APPROVE.value, "Approve"),
    (Decision.REJECT.value, "Reject"),
    (Decision.NONE.value, "Close without a decision"),
]


class CloseForm(ActionForm):
    FORM = "close"
    VERB = "Close"
    SUBMIT = "Close case"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField("decision", "Decision", choices(DECISIONS), required=True)
        yield FormField(
            "comment", "Comment (optional)", text_area(), limit=limits.DECISION_COMMENT_MAX
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        body = {
            "type": ActionType.CLOSE,
            "decision": values["decision"],
            "comment": self.optional_text(values["comment"]),
        }
        return self.model(CloseAction, body)

    def confirmation(self, action: CaseAction) -> Content:
        decision = action.decision if isinstance(action, CloseAction) else Decision.NONE
        outcome = "without a decision" if decision is Decision.NONE else f"— {decision.value}"
        return Content.assemble(
            "Close ",
            (self.case.reference, "bold"),
            " — ",
            (self.case.name, "bold"),
            f" {outcome}?",
        )
