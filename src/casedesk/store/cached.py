"""The shapes the cache keeps on disk: queue rows, case details, sync state, read markers."""

from typing import Any, NamedTuple
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from casedesk.domain.base import Timestamp, WireModel
from casedesk.domain.case import Case
from casedesk.domain.enums import CaseStatus, Decision, RiskTier, SlaStatus
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override


class QueueRow(NamedTuple):
    """What the queue shows, sorts and filters on for one case: no details, no entities.

    A typed tuple, stored as a JSON array in `index.json` and validated by
    pydantic straight from the file's bytes: tens of thousands load at start,
    and arrays of plain values load ~2x faster than objects (see
    benchmarks/store_bench.py). Build one with `from_case`.
    """

    id: UUID
    reference: str
    name: str
    status: CaseStatus
    decision: Decision | None
    risk_tier: RiskTier
    risk_score: int
    sla_deadline: AwareDatetime | None
    sla_status: SlaStatus
    assignee_id: UUID | None
    assignee_name: str | None
    queue_id: UUID
    queue_name: str
    tags: tuple[str, ...]
    """Tag labels, as `tag:` filters them."""
    revision: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    closed_at: AwareDatetime | None
    open_escalations_count: int
    pending_override_id: UUID | None
    messages_count: int
    last_message_at: AwareDatetime | None

    @classmethod
    def from_case(cls, case: Case) -> "QueueRow":
        """The row of `case`."""
        return cls(
            id=case.id,
            reference=case.reference,
            name=case.name,
            status=case.status,
            decision=case.decision,
            risk_tier=case.risk_tier,
            risk_score=case.risk_score,
            sla_deadline=case.sla_deadline,
            sla_status=case.sla_status,
            assignee_id=case.assignee.id if case.assignee else None,
            assignee_name=case.assignee.name if case.assignee else None,
            queue_id=case.queue.id,
            queue_name=case.queue.name,
            tags=tuple(tag.label for tag in case.tags),
            revision=case.revision,
            created_at=case.created_at,
            updated_at=case.updated_at,
            closed_at=case.closed_at,
            open_escalations_count=case.summary.open_escalations_count,
            pending_override_id=case.summary.pending_override_id,
            messages_count=case.summary.messages_count,
            last_message_at=case.summary.last_message_at,
        )

    def stored(self) -> list[Any]:
        """The row as `index.json` stores it: an array in field order (orjson encodes values)."""
        return list(self)


class CaseDetails(WireModel):
    """One case in full, with its chat, escalations, overrides and action log.

    A list that is `None` was never fetched; an empty list was fetched and is
    empty. `fetched_at` is when the lists were last fetched, at case revision
    `fetched_revision`; a list sync refreshes `case` alone.
    """

    case: Case
    messages: list[Message] | None = None
    escalations: list[Escalation] | None = None
    overrides: list[Override] | None = None
    actions: list[ActionLogEntry] | None = None
    fetched_at: Timestamp | None = None
    fetched_revision: int | None = None

    @property
    def fetched(self) -> bool:
        """Whether the related records were ever fetched."""
        return self.fetched_at is not None

    @property
    def stale(self) -> bool:
        """Whether the case changed since the related records were fetched (or never were)."""
        return self.fetched_revision != self.case.revision


class SyncState(WireModel):
    """Where the last pull stopped; written in the same file write as the rows it pulled."""

    last_sync_at: Timestamp | None = None
    """When the last complete pull finished."""
    updated_since: Timestamp | None = None
    """The watermark for the next incremental pull (`updated_since=`)."""
    cursor: str | None = None
    """The page cursor of a pull interrupted midway, to resume it."""


class ReadMarker(WireModel):
    """The last chat message the reviewer saw on a case."""

    message_id: UUID | None
    at: Timestamp
    """The `created_at` of that message: later messages are unread."""


class RowLayout(BaseModel):
    """Which field each position of a stored row holds."""

    model_config = ConfigDict(extra="forbid")

    row_fields: list[str]


ROW_LAYOUT = RowLayout(row_fields=list(QueueRow._fields))


class IndexFile(BaseModel):
    """`index.json`, validated straight from its bytes (no intermediate dicts)."""

    model_config = ConfigDict(extra="forbid")

    rows: dict[str, QueueRow] = {}
    """Case id -> the row as an array, in `meta.layout.row_fields` order."""
    sync: dict[str, SyncState] = {}
    meta: dict[str, RowLayout] = {}
