"""What happens on a case: chat, documents, escalations, overrides, the action log."""

from typing import Any
from uuid import UUID

from pydantic import Field

from casedesk.domain.base import Timestamp, WireModel
from casedesk.domain.enums import ActionType, MessageKind, OverrideStatus, ProposedDecision


class Document(WireModel):
    """An uploaded file; its content is served only within its organization."""

    id: UUID
    name: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str


class Message(WireModel):
    """One line of a case's chat."""

    id: UUID
    case_id: UUID
    author_id: UUID | None
    author_name: str
    kind: MessageKind
    body: str
    documents: list[Document]
    created_at: Timestamp


class Escalation(WireModel):
    """An escalation of a case; active until completed."""

    id: UUID
    case_id: UUID
    type: str
    title: str
    reason: str
    note: str | None
    follow_up_due_at: Timestamp | None
    assigned_to_user_id: UUID | None
    created_by_id: UUID | None
    is_completed: bool
    completed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class Override(WireModel):
    """A request to override a case's decision, and its outcome."""

    id: UUID
    case_id: UUID
    status: OverrideStatus
    creator_id: UUID
    reason: str
    proposed_decision: ProposedDecision
    reviewer_ids: list[UUID]
    decided_by_id: UUID | None
    decision_comment: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class ActionLogEntry(WireModel):
    """One permanent entry of a case's action log."""

    id: UUID
    case_id: UUID
    type: ActionType
    actor_id: UUID | None
    client_action_id: UUID | None
    payload: dict[str, Any]
    case_revision: int = Field(ge=1)
    created_at: Timestamp
