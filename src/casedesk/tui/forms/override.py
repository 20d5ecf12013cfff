"""Override forms: request (`o`), accept (`A`), refuse (`R`) and cancel (`X`)."""

from collections.abc import Iterable, Mapping, Sequence

from textual.content import Content

from casedesk.domain import limits
from casedesk.domain.actions import (
    AcceptOverrideAction,
    CancelOverrideAction,
    CaseAction,
    RefuseOverrideAction,
    RequestOverrideAction,
)
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType, ProposedDecision
from casedesk.domain.people import User
from casedesk.domain.records import Override
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import ActionForm, FormProblem
from casedesk.tui.forms.fields import FieldValue, FormField, choices, picker_problem, text_area
from casedesk.tui.forms.people import UserPicker

PROPOSALS = [(d.value, d.value.capitalize()) for d in ProposedDecision]


class RequestOverrideForm(ActionForm):
    """Propose a decision for other reviewers to accept or refuse."""

    FORM = "request_override"
    VERB = "Request an override on"
    SUBMIT = "Request override"

    def __init__(self, service: CaseService, *, case: Case, reviewers: Sequence[User]) -> None:
        super().__init__(service, case=case)
        self.reviewers = list(reviewers)

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "reason", "Reason", text_area(), limit=limits.OVERRIDE_REASON_MAX, required=True
        )
        yield FormField("proposed_decision", "Proposed decision", choices(PROPOSALS), required=True)
        yield FormField(
            "reviewer_ids",
            "Reviewers (optional: anyone may decide)",
            UserPicker(self.reviewers, multiple=True),
            hint="Type part of a name or email; Enter adds (or removes) the highlighted reviewer.",
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        problem = picker_problem(self.fields["reviewer_ids"])
        if problem is not None:
            raise FormProblem(problem)
        body = {
            "type": ActionType.REQUEST_OVERRIDE,
            "reason": self.text(values["reason"]),
            "proposed_decision": values["proposed_decision"],
            "reviewer_ids": self.ids(values["reviewer_ids"]),
        }
        return self.model(RequestOverrideAction, body)


class _DecideOverride(ActionForm):
    """What accept, refuse and cancel share: the pending override, described above the fields."""

    def __init__(
        self, service: CaseService, *, case: Case, override: Override, people: Sequence[User]
    ) -> None:
        super().__init__(service, case=case)
        self.override = override
        self.people = {user.id: user.name for user in people}

    def intro(self) -> Content:
        override = self.override
        creator = self.people.get(override.creator_id, "another user")
        return Content.assemble(
            (creator, "bold"),
            " proposes to ",
            (override.proposed_decision.value, "bold"),
            ":\n",
            override.reason,
        )


class AcceptOverrideForm(_DecideOverride):
    FORM = "accept_override"
    VERB = "Accept the override on"
    SUBMIT = "Accept override"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "comment", "Comment (optional)", text_area(), limit=limits.DECISION_COMMENT_MAX
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        body = {
            "type": ActionType.ACCEPT_OVERRIDE,
            "override_id": str(self.override.id),
            "comment": self.optional_text(values["comment"]),
        }
        return self.model(AcceptOverrideAction, body)


class RefuseOverrideForm(_DecideOverride):
    FORM = "refuse_override"
    VERB = "Refuse the override on"
    SUBMIT = "Refuse override"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "comment",
            "Why it is refused",
            text_area(),
            limit=limits.DECISION_COMMENT_MAX,
            required=True,
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        body = {
            "type": ActionType.REFUSE_OVERRIDE,
            "override_id": str(self.override.id),
            "comment": self.text(values["comment"]),
        }
        return self.model(RefuseOverrideAction, body)


class CancelOverrideForm(_DecideOverride):
    """A confirmation: the request is withdrawn."""

    FORM = "cancel_override"
    VERB = "Cancel your override request on"
    SUBMIT = "Cancel the request"
    KEEPS_DRAFT = False

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:  # noqa: ARG002
        body = {"type": ActionType.CANCEL_OVERRIDE, "override_id": str(self.override.id)}
        return self.model(CancelOverrideAction, body)
