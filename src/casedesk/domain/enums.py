"""Enumerations shared by the server and the console (values as on the wire)."""

from enum import StrEnum


class Role(StrEnum):
    CONTRIBUTOR = "contributor"
    REVIEWER = "reviewer"


class CaseStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    QUERYING = "querying"  # waiting on the other side: the SLA clock is paused
    CLOSED = "closed"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    NONE = "none"


class ProposedDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class SlaStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"


class RiskTier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class EntityCategory(StrEnum):
    COMPANY = "company"
    INDIVIDUAL = "individual"


class MessageKind(StrEnum):
    MESSAGE = "message"
    QUERY_PROMPT = "query_prompt"
    SYSTEM = "system"


class OverrideStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class CompanyType(StrEnum):
    MAIN = "main"
    AFFILIATED = "affiliated"


class RelationRole(StrEnum):
    SHAREHOLDER = "shareholder"
    BENEFICIAL_OWNER = "beneficial_owner"
    LEGAL_REPRESENTATIVE = "legal_representative"
    DIRECTOR = "director"


class ParameterScope(StrEnum):
    CASE = "case"
    QUEUE = "queue"
    ACCOUNT = "account"


class ParameterPhase(StrEnum):
    REQUEST = "request"
    PROCESSING = "processing"
    COMPLETION = "completion"


class ActionType(StrEnum):
    """Every `type` of `POST /v1/cases/{id}/actions`, plus `create` in the log."""

    CREATE = "create"  # written to the log by POST /v1/cases; not postable as an action
    COMMENT = "comment"
    ESCALATE = "escalate"
    UPDATE_ESCALATION = "update_escalation"
    COMPLETE_ESCALATION = "complete_escalation"
    REQUEST_OVERRIDE = "request_override"
    ACCEPT_OVERRIDE = "accept_override"
    REFUSE_OVERRIDE = "refuse_override"
    CANCEL_OVERRIDE = "cancel_override"
    CLOSE = "close"
    ASSIGN = "assign"
    QUERY = "query"
    RESUME = "resume"
    REOPEN = "reopen"


class CaseSort(StrEnum):
    """Sort orders of `GET /v1/cases`; a leading `-` means descending."""

    REFERENCE = "reference"
    REFERENCE_DESC = "-reference"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    SLA_DEADLINE = "sla_deadline"
    SLA_DEADLINE_DESC = "-sla_deadline"
    RISK_SCORE = "risk_score"
    RISK_SCORE_DESC = "-risk_score"


class Include(StrEnum):
    """Related objects that `?include=` adds to an action's response."""

    USER = "user"
    COMMENT = "comment"
    COMMENT_DOCUMENTS = "comment.documents"
    OVERRIDE = "override"
    OVERRIDE_ASSIGNED_REVIEWERS = "override.assigned_reviewers"
