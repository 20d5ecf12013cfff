"""`CaseBackend`: the port the sync engine talks to; `CaseApiClient` is its HTTP adapter."""

from collections.abc import AsyncIterator, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypedDict, Unpack
from uuid import UUID

from casedesk.api.pages import CursorPage
from casedesk.domain.actions import CaseAction
from casedesk.domain.case import Case
from casedesk.domain.create import NewCase
from casedesk.domain.enums import CaseSort, CaseStatus, Include, RiskTier, SlaStatus
from casedesk.domain.envelope import ActionResult
from casedesk.domain.people import Queue, User
from casedesk.domain.records import ActionLogEntry, Document, Escalation, Message, Override


class CaseQuery(TypedDict, total=False):
    """Filters, order and page size of `GET /v1/cases` (all optional)."""

    status: CaseStatus | str | Collection[CaseStatus | str]
    """One status, or several (any of them)."""
    queue: UUID | str
    """A queue id or name."""
    assignee: UUID | str
    """`"me"`, `"none"` or a user id."""
    risk_tier: RiskTier | str | Collection[RiskTier | str]
    sla_status: SlaStatus | str | Collection[SlaStatus | str]
    tag: str
    """A tag id or label (case-insensitive)."""
    q: str
    """Free text."""
    updated_since: datetime
    """Inclusive (`updated_at >= since`); must carry a time zone."""
    sort: CaseSort | str
    limit: int
    """Page size, 1..200 (the API's default is 50)."""


class CaseBackend(Protocol):
    """Everything the console needs from a case backend, one coroutine per operation.

    Implementations validate and sanitise what they return and raise the
    exceptions of `casedesk.api.errors`.
    """

    @property
    def bytes_received(self) -> int:
        """Bytes of answers read so far, for progress reports."""
        ...

    async def me(self) -> User:
        """The user the API key belongs to."""
        ...

    async def users(self) -> list[User]:
        """Every assignable user of the organization."""
        ...

    async def queues(self) -> list[Queue]:
        """Every queue of the organization."""
        ...

    async def list_cases(
        self, *, cursor: str | None = None, **query: Unpack[CaseQuery]
    ) -> CursorPage[Case]:
        """One page of cases (filters: see `CaseQuery`)."""
        ...

    def iter_cases(
        self, *, cursor: str | None = None, **query: Unpack[CaseQuery]
    ) -> AsyncIterator[CursorPage[Case]]:
        """Every page of cases from `cursor` on, one page at a time."""
        ...

    async def get_case(self, id_or_ref: UUID | str) -> Case:
        """One case, by id or reference (`CAS-000142`)."""
        ...

    async def messages(
        self, case_id: UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Message]:
        """One page of a case's chat."""
        ...

    async def escalations(
        self, case_id: UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Escalation]:
        """One page of a case's escalations."""
        ...

    async def overrides(
        self, case_id: UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[Override]:
        """One page of a case's override requests."""
        ...

    async def actions(
        self, case_id: UUID | str, *, limit: int | None = None, cursor: str | None = None
    ) -> CursorPage[ActionLogEntry]:
        """One page of a case's permanent action log."""
        ...

    async def all_messages(self, case_id: UUID | str) -> list[Message]:
        """A case's whole chat."""
        ...

    async def all_escalations(self, case_id: UUID | str) -> list[Escalation]:
        """All of a case's escalations."""
        ...

    async def all_overrides(self, case_id: UUID | str) -> list[Override]:
        """All of a case's override requests."""
        ...

    async def all_actions(self, case_id: UUID | str) -> list[ActionLogEntry]:
        """A case's whole action log."""
        ...

    async def create_case(self, body: NewCase, idempotency_key: str | None) -> Case:
        """Create a case; with a key, a repeat returns the first answer and creates nothing."""
        ...

    async def act(
        self,
        case_id: UUID | str,
        action: CaseAction,
        *,
        idempotency_key: str | None,
        if_match: int | None = None,
        include: Iterable[Include | str] = (),
    ) -> ActionResult:
        """Apply one action to a case (`if_match`: the revision the user saw)."""
        ...

    async def upload_document(
        self,
        source: Path | bytes,
        *,
        name: str | None = None,
        content_type: str | None = None,
        idempotency_key: str | None,
    ) -> Document:
        """Upload a file, to attach to a comment by its id."""
        ...

    async def document_content(self, document_id: UUID | str) -> bytes:
        """The bytes of an uploaded document."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
