"""An outbox item: one action on its way to the API, as stored and as `casedesk outbox` shows it."""

from enum import StrEnum
from typing import Any, Self
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from casedesk.domain.actions import CaseAction, case_action_adapter
from casedesk.domain.base import Timestamp, WireModel
from casedesk.domain.create import NewCase
from casedesk.domain.enums import ActionType
from casedesk.domain.envelope import ErrorDetail


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    PARKED = "parked"


PENDING = frozenset({OutboxState.QUEUED, OutboxState.SENDING})
"""Not yet acknowledged by the API: shown as "pending"."""


class ParkReason(StrEnum):
    REJECTED = "rejected"
    """The API refused the action (400, 404, 409 state conflict...): edit or discard it."""
    CONFLICT = "conflict"
    """The case changed since the reviewer saw it (412): look again, then edit or retry."""
    DEFECT = "defect"
    """The request itself was wrong (422 key reused with another body): a bug, never resent."""
    NEEDS_CREDENTIALS = "needs_credentials"
    """The API key was refused (401/403): retry once a key works."""


class ItemKind(StrEnum):
    ACTION = "action"
    """`POST /v1/cases/{case_id}/actions` with a `CaseAction` body."""
    CREATE_CASE = "create_case"
    """`POST /v1/cases` with a `NewCase` body."""


CREATE_TYPE = ActionType.CREATE.value


class ItemError(WireModel):
    """The last failure of an item, as the API (or the network) put it."""

    code: str
    message: str
    details: list[ErrorDetail] = []
    """Field paths and what was wrong with each (`escalations.0.escalation_id`)."""
    status: int | None = None
    """The HTTP status; `None` when no answer came (timeout, connection lost)."""
    data: dict[str, Any] | None = None


class OutboxItem(WireModel):
    """One action waiting for (or past) the API; its JSON is what `casedesk outbox --json` shows."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    case_id: UUID | None
    """`None` only for a case not created yet."""
    case_reference: str | None
    type: str
    """The action `type` (`comment`, `close`...), or `create` for a new case."""
    body: dict[str, Any]
    """The request body exactly as it is sent, `client_action_id` included for actions."""
    state: OutboxState
    attempts: int = Field(ge=0)
    next_attempt_at: Timestamp | None
    """Not sent by the automatic replay before this instant (backoff); `None`: at once."""
    last_error: ItemError | None
    created_at: Timestamp
    kind: ItemKind
    client_action_id: UUID
    idempotency_key: UUID
    """Sent as `Idempotency-Key` on every attempt; new only when the body is edited."""
    if_match: int | None
    """The revision the reviewer saw, sent as `If-Match` (decision actions only)."""
    retry_after: Timestamp | None = None
    """Not sent before this instant, even on demand: the server's `Retry-After`."""
    park_reason: ParkReason | None = None
    sent_at: Timestamp | None = None
    """When the last attempt started."""
    done_at: Timestamp | None = None
    seq: int = Field(ge=1)
    """Position in the outbox: items of one case are sent in this order."""
    queued_by: UUID | None = None
    """The user whose key queued it: it is only ever sent with that user's key."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is ItemKind.ACTION:
            action = case_action_adapter.validate_python(self.body)
            if action.type != self.type or action.client_action_id != self.client_action_id:
                raise ValueError("body type and client_action_id must match the item's")
            if self.case_id is None:
                raise ValueError("an action needs a case_id")
        else:
            NewCase.model_validate(self.body)
            if self.type != CREATE_TYPE:
                raise ValueError(f"a create_case item has type {CREATE_TYPE!r}")
        if (self.state is OutboxState.PARKED) != (self.park_reason is not None):
            raise ValueError("park_reason is set exactly when the item is parked")
        return self

    @property
    def pending(self) -> bool:
        """Not yet acknowledged by the API."""
        return self.state in PENDING

    @property
    def fifo_key(self) -> UUID:
        """Items sharing this key are sent one after the other, in `seq` order."""
        return self.case_id if self.case_id is not None else self.id

    def action(self) -> CaseAction:
        """The body as a `CaseAction` (for `kind == action`)."""
        return case_action_adapter.validate_python(self.body)

    def new_case(self) -> NewCase:
        """The body as a `NewCase` (for `kind == create_case`)."""
        return NewCase.model_validate(self.body)
