"""Request bodies of `POST /v1/cases/{id}/actions`: one model per action `type`."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter, field_validator

from casedesk.domain import limits
from casedesk.domain.base import Timestamp, WireModel, non_blank
from casedesk.domain.enums import ActionType, Decision, ProposedDecision


class _Action(WireModel):
    client_action_id: UUID | None = None
    """Unique per case: a repeat returns the recorded action and applies nothing."""


class CommentAction(_Action):
    type: Literal[ActionType.COMMENT]
    body: Annotated[
        str, Field(min_length=limits.COMMENT_BODY_MIN, max_length=limits.COMMENT_BODY_MAX)
    ]
    document_ids: Annotated[list[UUID], Field(max_length=limits.COMMENT_DOCUMENTS_MAX)] = []

    _body_not_blank = field_validator("body")(non_blank)


class EscalateAction(_Action):
    type: Literal[ActionType.ESCALATE]
    reason: Annotated[
        str, Field(min_length=limits.ESCALATE_REASON_MIN, max_length=limits.ESCALATE_REASON_MAX)
    ]
    escalate_to: UUID | None = None

    _reason_not_blank = field_validator("reason")(non_blank)


class EscalationUpdate(WireModel):
    """One item of `update_escalation` (CareValidate UPDATE_ESCALATION)."""

    escalation_id: UUID
    note: Annotated[str, Field(max_length=limits.ESCALATION_NOTE_MAX)] | None = None
    follow_up_due_at: Timestamp | None = None
    assigned_to_email: Annotated[str, Field(max_length=320)] | None = None


class UpdateEscalationAction(_Action):
    type: Literal[ActionType.UPDATE_ESCALATION]
    escalations: Annotated[
        list[EscalationUpdate],
        Field(min_length=limits.ESCALATION_UPDATES_MIN, max_length=limits.ESCALATION_UPDATES_MAX),
    ]


class CompleteEscalationAction(_Action):
    type: Literal[ActionType.COMPLETE_ESCALATION]
    escalation_id: UUID
    note: Annotated[str, Field(max_length=limits.ESCALATION_NOTE_MAX)] | None = None


class RequestOverrideAction(_Action):
    type: Literal[ActionType.REQUEST_OVERRIDE]
    reason: Annotated[
        str, Field(min_length=limits.OVERRIDE_REASON_MIN, max_length=limits.OVERRIDE_REASON_MAX)
    ]
    proposed_decision: ProposedDecision
    reviewer_ids: Annotated[list[UUID], Field(max_length=limits.OVERRIDE_REVIEWERS_MAX)] = []

    _reason_not_blank = field_validator("reason")(non_blank)


class AcceptOverrideAction(_Action):
    type: Literal[ActionType.ACCEPT_OVERRIDE]
    override_id: UUID
    comment: Annotated[str, Field(max_length=limits.DECISION_COMMENT_MAX)] | None = None


class RefuseOverrideAction(_Action):
    type: Literal[ActionType.REFUSE_OVERRIDE]
    override_id: UUID
    comment: Annotated[str, Field(min_length=1, max_length=limits.DECISION_COMMENT_MAX)]

    _comment_not_blank = field_validator("comment")(non_blank)


class CancelOverrideAction(_Action):
    type: Literal[ActionType.CANCEL_OVERRIDE]
    override_id: UUID


class CloseAction(_Action):
    type: Literal[ActionType.CLOSE]
    decision: Decision
    comment: Annotated[str, Field(max_length=limits.DECISION_COMMENT_MAX)] | None = None


class AssignAction(_Action):
    type: Literal[ActionType.ASSIGN]
    assignee_id: UUID | None
    """The user to assign; `null` unassigns."""


class QueryAction(_Action):
    type: Literal[ActionType.QUERY]
    prompt: Annotated[
        str, Field(min_length=limits.QUERY_PROMPT_MIN, max_length=limits.QUERY_PROMPT_MAX)
    ]

    _prompt_not_blank = field_validator("prompt")(non_blank)


class ResumeAction(_Action):
    type: Literal[ActionType.RESUME]
    comment: Annotated[str, Field(max_length=limits.DECISION_COMMENT_MAX)] | None = None


class ReopenAction(_Action):
    type: Literal[ActionType.REOPEN]
    comment: Annotated[str, Field(max_length=limits.DECISION_COMMENT_MAX)] | None = None


CaseAction = Annotated[
    CommentAction
    | EscalateAction
    | UpdateEscalationAction
    | CompleteEscalationAction
    | RequestOverrideAction
    | AcceptOverrideAction
    | RefuseOverrideAction
    | CancelOverrideAction
    | CloseAction
    | AssignAction
    | QueryAction
    | ResumeAction
    | ReopenAction,
    Field(discriminator="type"),
]
"""Any action body; `type` picks the model."""

case_action_adapter: TypeAdapter[CaseAction] = TypeAdapter(CaseAction)

POSTABLE_ACTION_TYPES: frozenset[str] = frozenset(t.value for t in ActionType) - {"create"}

DECISION_ACTIONS: frozenset[ActionType] = frozenset(
    {ActionType.CLOSE, ActionType.ACCEPT_OVERRIDE, ActionType.REFUSE_OVERRIDE}
)
"""Actions whose outcome depends on what the reviewer saw: sent with `If-Match`."""
