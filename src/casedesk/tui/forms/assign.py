"""`AssignForm` (`@`): give the case to a person picked by name or email."""

from collections.abc import Iterable, Mapping, Sequence

from casedesk.domain.actions import AssignAction, CaseAction
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType
from casedesk.domain.people import User
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import ActionForm, FormProblem
from casedesk.tui.forms.fields import FieldValue, FormField, picker_problem
from casedesk.tui.forms.people import UserPicker


class AssignForm(ActionForm):
    FORM = "assign"
    VERB = "Assign"
    SUBMIT = "Assign"

    def __init__(self, service: CaseService, *, case: Case, users: Sequence[User]) -> None:
        super().__init__(service, case=case)
        self.users = list(users)

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "assignee_id",
            "Assign to",
            UserPicker(self.users),
            required=True,
            hint="Type part of a name or email; ↓/↑ and Enter pick.",
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        problem = picker_problem(self.fields["assignee_id"])
        if problem is not None:
            raise FormProblem(problem)
        chosen = self.ids(values["assignee_id"])
        if not chosen:
            raise FormProblem(("assignee_id", "Required: pick the person to assign."))
        return self.model(AssignAction, {"type": ActionType.ASSIGN, "assignee_id": chosen[0]})
