"""The `{data, meta}` wrapper of every response, and the error body."""

from typing import Any, Generic, TypeVar

from pydantic import Field

from casedesk.domain.base import WireModel
from casedesk.domain.case import Case
from casedesk.domain.people import User
from casedesk.domain.records import ActionLogEntry, Message, Override

T = TypeVar("T")


class Page(WireModel):
    cursor: str | None
    has_more: bool


class Meta(WireModel):
    request_id: str
    page: Page | None = None


class Envelope(WireModel, Generic[T]):
    """`{"data": ..., "meta": {"request_id", "page"?}}`."""

    data: T
    meta: Meta


class ErrorDetail(WireModel):
    path: str
    """Dotted field path, e.g. `escalations.0.escalation_id`; empty for the whole request."""
    message: str


class ErrorInfo(WireModel):
    code: str
    message: str
    details: list[ErrorDetail] = []
    data: dict[str, Any] | None = None


class ErrorMeta(WireModel):
    request_id: str


class ErrorBody(WireModel):
    """`{"error": {"code", "message", "details", "data"?}, "meta": {"request_id"}}`."""

    error: ErrorInfo
    meta: ErrorMeta


class ActionResult(WireModel):
    """`data` of `POST /v1/cases/{id}/actions`: the log entry, the case, and any `include=`."""

    action: ActionLogEntry
    case: Case
    user: User | None = None
    comment: Message | None = None
    comment_documents: list[Any] | None = Field(default=None, alias="comment.documents")
    override: Override | None = None
    override_assigned_reviewers: list[User] | None = Field(
        default=None, alias="override.assigned_reviewers"
    )
