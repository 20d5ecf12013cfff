"""`CaseService`: the one object the console and the CLI talk to.

It reads the local cache, writes actions to the durable outbox first, and
uses the API (when reachable) to pull changes and push the outbox. No
caller ever touches HTTP or files directly.
"""

import asyncio
import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from casedesk.api.backend import CaseBackend
from casedesk.api.errors import ApiConnectionError, CaseApiError, InvalidResponse, Unauthorized
from casedesk.domain.actions import CaseAction
from casedesk.domain.clock import Clock, system_clock
from casedesk.domain.create import NewCase
from casedesk.domain.enums import Role
from casedesk.domain.envelope import ErrorDetail
from casedesk.domain.people import Queue, User
from casedesk.domain.query import QueryContext, parse_query
from casedesk.domain.queue_head import HEAD_ROWS, HeadStatus, head_bytes
from casedesk.store.attachments import StagedFile, attachment_problem
from casedesk.store.cached import CaseDetails, QueueRow
from casedesk.store.drafts import DraftValue
from casedesk.store.errors import StoreEvent
from casedesk.store.head_file import keep_head
from casedesk.store.local import LocalStore
from casedesk.store.outbox_item import PENDING, OutboxItem, OutboxState, ParkReason
from casedesk.sync import pull as pulling
from casedesk.sync import push as pushing
from casedesk.sync.events import PullResult, PushResult, SyncProgress, SyncResult
from casedesk.sync.snapshot import QueueSnapshot, take_snapshot


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    parked: int


@dataclass(frozen=True)
class Queued:
    """An action durably in the outbox, and whether it already reached the API."""

    item: OutboxItem
    sent: bool
    error: str | None = None


@dataclass(frozen=True)
class PendingAction:
    """An action on a case still in the outbox: shown as pending (or parked) on the case."""

    item_id: UUID
    action: CaseAction
    parked: bool
    """Refused or held by the API: it waits for the reviewer (edit, retry or discard)."""
    reason: str | None
    """Why it is parked (the API's message word for word), or why the last attempt failed."""
    details: tuple[ErrorDetail, ...]
    """The field paths the API named (`reason`, `escalations.0.note`)."""
    created_at: datetime
    queued_by: UUID | None
    data: dict[str, Any] | None = None
    """What the API returned with its refusal (CareValidate: the active escalations)."""
    attachments: tuple[StagedFile, ...] = ()
    """The files attached to a queued comment, as copied when it was queued."""


class CaseService:
    """The console's and the CLI's view of casedesk: cache, outbox, sync."""

    def __init__(
        self,
        *,
        profile_name: str,
        store: LocalStore,
        backend: CaseBackend | None,
        clock: Clock = system_clock,
    ) -> None:
        self.profile_name = profile_name
        self.store = store
        self.backend = backend
        self.clock = clock
        self.online: bool | None = None
        """None until the API was tried; then whether the last attempt reached it."""
        self.last_error: str | None = None
        self._sync_lock = asyncio.Lock()

    # -- who -------------------------------------------------------------------------

    def me(self) -> User | None:
        return self.store.cache.me()

    def roles(self) -> frozenset[Role]:
        me = self.me()
        return frozenset(me.roles) if me else frozenset()

    def users(self) -> list[User]:
        return self.store.cache.users()

    def queues(self) -> list[Queue]:
        return self.store.cache.queues()

    # -- reading ---------------------------------------------------------------------

    def query_context(self) -> QueryContext:
        cache = self.store.cache
        me = self.me()
        rows = cache.rows()
        return QueryContext(
            me=me.id if me else None,
            unread={row.id for row in rows if cache.is_unread(row)},
            pending=self.pending_case_ids(),
            emails={user.id: user.email for user in cache.users()},
        )

    def snapshot(self, *, sort: str = "reference", reverse: bool = False) -> QueueSnapshot:
        """Every cached case with its SLA state as of now, sorted, with the views' counts."""
        return take_snapshot(
            self.store.cache.rows(),
            context=self.query_context(),
            now=self.clock(),
            sla_hours={queue.id: queue.sla_hours for queue in self.queues()},
            sort=sort,
            reverse=reverse,
        )

    def keep_queue_head(self, snapshot: QueueSnapshot, *, view: str) -> None:
        """Keep `view`'s first rows of `snapshot` for the next start to paint at once.

        Blocking file I/O (small): call it off the event loop.
        """
        rows: Iterable[QueueRow] = snapshot.view_rows(view)
        if snapshot.sort != "reference" or snapshot.reverse:
            rows = heapq.nsmallest(HEAD_ROWS, rows, key=lambda row: row.reference)
        me, counts = self.me(), self.outbox_counts()
        status = HeadStatus(
            profile=self.profile_name,
            user=me.name if me else "",
            last_sync=self.last_sync_at(),
            pending=counts.pending,
            parked=counts.parked,
        )
        context = snapshot.context
        data = head_bytes(
            rows,
            view=view,
            counts=snapshot.counts,
            unread=context.unread,
            pending=context.pending,
            status=status,
            sla_hours={queue.id: queue.sla_hours for queue in self.queues()},
        )
        keep_head(self.store.data_dir, data)

    def queue(self, query: str = "", *, view: str | None = None) -> list[QueueRow]:
        """Cached cases matching `query` (the filter language) and `view`, by reference.

        Raises `QueryError` for a query the language does not understand.
        """
        snapshot = self.snapshot()
        return snapshot.select(parse_query(query, snapshot.context), view)

    def find(self, reference_or_id: str) -> QueueRow | None:
        """A cached case by reference (`CAS-000142`, case-insensitive) or id."""
        cache = self.store.cache
        text = reference_or_id.strip()
        if text.upper().startswith("CAS-"):
            return cache.row_by_reference(text.upper())
        try:
            return cache.row(UUID(text))
        except ValueError:
            return None

    def case(self, reference_or_id: str) -> CaseDetails | None:
        """A cached case with whatever details are cached (never fetched: lists are None)."""
        row = self.find(reference_or_id)
        return None if row is None else self.store.cache.details(row.id)

    async def open_case(self, reference_or_id: str) -> CaseDetails | None:
        """The case with fresh details when the API answers, else what the cache holds.

        A case not cached yet (created since the last sync) is fetched too. A refused
        key is not hidden behind the cache: `Unauthorized` goes up.
        """
        row = self.find(reference_or_id)
        if self.backend is None:
            return self.case(reference_or_id)
        wanted = row.id if row is not None else reference_or_id.strip()
        try:
            details = await pulling.fetch_details(self.backend, wanted, self.clock)
        except Unauthorized:
            self.online = True
            raise
        except CaseApiError as error:
            self._note_failure(error)
            return None if row is None else self.store.cache.details(row.id)
        self._note_success()
        await asyncio.to_thread(self.store.cache.save_details, details)
        return self.store.cache.details(details.case.id)

    def is_unread(self, case_id: UUID) -> bool:
        """Whether the case's chat has a message the reviewer has not seen."""
        row = self.store.cache.row(case_id)
        return row is not None and self.store.cache.is_unread(row)

    def mark_chat_read(self, case_id: UUID) -> None:
        """The reviewer saw the case's chat up to its newest message (clears the unread flag)."""
        details = self.store.cache.details(case_id)
        if details is None or not details.messages:
            return
        newest = details.messages[-1]
        marker = self.store.cache.read_marker(case_id)
        if marker is None or marker.at < newest.created_at:
            self.store.cache.mark_read(case_id, message_id=newest.id, at=newest.created_at)

    async def check_key(self) -> None:
        """Ask the API who the key belongs to: `Unauthorized` if it is refused; offline is fine."""
        if self.backend is None:
            return
        try:
            await self.backend.me()
        except Unauthorized:
            self.online = True
            raise
        except CaseApiError as error:
            self._note_failure(error)
        else:
            self._note_success()

    # -- acting ----------------------------------------------------------------------

    def pending_case_ids(self) -> set[UUID]:
        if self.store.outbox_problem is not None:
            return set()
        return {
            item.case_id for item in self.store.outbox.items(PENDING) if item.case_id is not None
        }

    async def act(self, reference_or_id: str, action: CaseAction, *, send: bool = True) -> Queued:
        """Queue `action` on a cached case (durably), then try to send it at once."""
        row = self.find(reference_or_id)
        if row is None:
            raise LookupError(f"no cached case {reference_or_id!r}; run `casedesk sync` first")
        me = self.me()
        # The reviewer's own actions still queued on this case go first (FIFO per case) and
        # each moves the revision on: a decision made after them expects that revision.
        ahead = sum(
            1
            for item in self.store.outbox.for_case(row.id)
            if item.state in (OutboxState.QUEUED, OutboxState.SENDING)
        )
        item = await asyncio.to_thread(
            self.store.outbox.enqueue,
            action,
            case_id=row.id,
            case_reference=row.reference,
            seen_revision=row.revision + ahead,
            queued_by=me.id if me else None,
        )
        return await self._send_now(item, send)

    async def deliver(self, queued: Queued) -> Queued:
        """Try at once to send what `act(..., send=False)` queued; what became of it.

        The console queues first (and shows the action as pending), then calls this.
        """
        return await self._send_now(queued.item, True)

    async def edit_action(self, item_id: UUID, action: CaseAction, *, send: bool = True) -> Queued:
        """Replace a parked (or never tried) action with the reviewer's corrected one, queue it
        again (a new request: new keys) and try to send it. Decided on the case as cached now."""
        current = self.store.outbox.get(item_id)
        row = self.store.cache.row(current.case_id) if current.case_id is not None else None
        item = await asyncio.to_thread(
            self.store.outbox.edit,
            item_id,
            action,
            seen_revision=row.revision if row is not None else None,
        )
        self._forget_copies(pushing.local_copies(current))
        return await self._send_now(item, send)

    async def edit_create(self, item_id: UUID, new_case: NewCase, *, send: bool = True) -> Queued:
        """Replace a parked (or never tried) new case with the reviewer's corrected one, queue
        it again (a new request: new keys) and try to send it."""
        item = await asyncio.to_thread(self.store.outbox.edit, item_id, new_case)
        return await self._send_now(item, send)

    async def create_case(self, new_case: NewCase, *, send: bool = True) -> Queued:
        me = self.me()
        item = await asyncio.to_thread(
            self.store.outbox.enqueue_create, new_case, queued_by=me.id if me else None
        )
        return await self._send_now(item, send)

    async def _send_now(self, item: OutboxItem, send: bool) -> Queued:
        if send and self.backend is not None:
            await self.push()
        current = self.store.outbox.get(item.id)
        error = current.last_error.message if current.last_error else None
        return Queued(item=current, sent=current.state is OutboxState.DONE, error=error)

    def case_outbox(self, case_id: UUID) -> list[PendingAction]:
        """The case's actions not yet acknowledged by the API (pending or parked), oldest first."""
        if self.store.outbox_problem is not None:
            return []
        shown: list[PendingAction] = []
        for item in self.store.outbox.for_case(case_id):
            if item.state is OutboxState.DONE:
                continue
            error = item.last_error
            shown.append(
                PendingAction(
                    item_id=item.id,
                    action=item.action(),
                    parked=item.state is OutboxState.PARKED,
                    reason=error.message if error else None,
                    details=tuple(error.details) if error else (),
                    created_at=item.created_at,
                    queued_by=item.queued_by,
                    data=error.data if error else None,
                    attachments=tuple(self.staged_files(pushing.local_copies(item))),
                )
            )
        return shown

    # -- drafts ----------------------------------------------------------------------

    def draft(self, case_id: UUID | None, form: str) -> dict[str, DraftValue] | None:
        """What was last typed in `form` on the case (`None`: a new case), if anything."""
        kept = self.store.drafts.get(case_id, form)
        return None if kept is None else dict(kept.fields)

    async def save_draft(
        self, case_id: UUID | None, form: str, fields: Mapping[str, DraftValue]
    ) -> None:
        """Keep what is typed in `form` (durable on return); the file work runs in a thread."""
        await asyncio.to_thread(self.store.drafts.save, case_id, form, fields)

    async def clear_draft(self, case_id: UUID | None, form: str) -> None:
        """Forget the draft of `form`: its action is done (or the reviewer emptied it)."""
        await asyncio.to_thread(self.store.drafts.clear, case_id, form)

    # -- the outbox ------------------------------------------------------------------

    def outbox(self, *, include_done: bool = False) -> list[OutboxItem]:
        items = self.store.outbox.items()
        return [item for item in items if include_done or item.state is not OutboxState.DONE]

    def outbox_counts(self) -> OutboxCounts:
        if self.store.outbox_problem is not None:
            return OutboxCounts(pending=0, parked=0)
        items = self.store.outbox.items()
        return OutboxCounts(
            pending=sum(1 for item in items if item.pending),
            parked=sum(1 for item in items if item.state is OutboxState.PARKED),
        )

    def last_sync_at(self) -> datetime | None:
        return self.store.cache.sync_state().last_sync_at

    def retry(self, item_id: UUID) -> OutboxItem:
        return self.store.outbox.retry(item_id)

    def discard(self, item_id: UUID) -> OutboxItem:
        item = self.store.outbox.discard(item_id)
        self._forget_copies(pushing.local_copies(item))
        return item

    # -- attachments -------------------------------------------------------------------

    @staticmethod
    def attachment_path(typed: str) -> Path:
        """The file a typed path names (`~` expanded, relative to the working directory)."""
        return Path(typed.strip()).expanduser().absolute()

    def attachment_problem(self, typed: str) -> str | None:
        """Why the file at `typed` cannot be attached to a comment, or `None`."""
        if not typed.strip():
            return "Type the path of a file."
        return attachment_problem(self.attachment_path(typed))

    async def stage_attachments(self, typed: Iterable[str]) -> list[UUID]:
        """Copy each file into the data directory (fsynced); the ids a comment refers to them by.

        Raises `ValueError` naming the file if one cannot be attached (nothing is kept then).
        """
        staged: list[UUID] = []
        try:
            for path in typed:
                copy = await asyncio.to_thread(
                    self.store.attachments.stage, self.attachment_path(path)
                )
                staged.append(copy.id)
        except BaseException:
            self.store.attachments.remove(staged)
            raise
        return staged

    def staged_files(self, ids: Iterable[UUID]) -> list[StagedFile]:
        """The local copies among `ids` (an id the API gave is not one)."""
        found = (self.store.attachments.get(local_id) for local_id in ids)
        return [staged for staged in found if staged is not None]

    def _forget_copies(self, ids: Iterable[UUID]) -> None:
        """Remove the copies of `ids` that no unsent item refers to any more."""
        still_needed = self.store.outbox.unsent_document_ids()
        self.store.attachments.remove(i for i in ids if i not in still_needed)

    def store_events(self) -> list[StoreEvent]:
        return self.store.take_events()

    # -- syncing ---------------------------------------------------------------------

    async def pull(
        self, *, full: bool = False, progress: Callable[[SyncProgress], None] | None = None
    ) -> PullResult:
        if self.backend is None:
            raise ApiConnectionError("no API configured for this profile")
        return await pulling.pull(
            self.backend,
            self.store.cache,
            clock=self.clock,
            full=full,
            progress=progress or (lambda _: None),
        )

    async def push(self, *, ignore_backoff: bool = False) -> PushResult:
        if self.backend is None or self.store.outbox_problem is not None:
            return PushResult()
        async with self._sync_lock:
            result = await pushing.push(
                self.backend,
                self.store.outbox,
                self.store.cache,
                clock=self.clock,
                ignore_backoff=ignore_backoff,
                attachments=self.store.attachments,
            )
        self._note_push(result)
        return result

    async def sync(
        self, *, full: bool = False, progress: Callable[[SyncProgress], None] | None = None
    ) -> SyncResult:
        """What `r` and `casedesk sync` do: send everything queued now, pull, send again."""
        if self.store.outbox_problem is None:
            # The user asked: items parked for credentials get another chance with this key.
            self.store.outbox.retry_parked(ParkReason.NEEDS_CREDENTIALS)
        first = await self.push(ignore_backoff=True)
        try:
            pulled = await self.pull(full=full, progress=progress)
        except Unauthorized:
            self.online = True
            raise
        except (CaseApiError, InvalidResponse) as error:
            self._note_failure(error)
            return SyncResult(pull=None, push=first, online=bool(self.online), error=str(error))
        self._note_success()
        second = await self.push(ignore_backoff=True)
        pushed = PushResult(
            sent=first.sent + second.sent,
            retrying=second.retrying,
            parked=first.parked + second.parked,
            stopped_for_credentials=second.stopped_for_credentials,
            sent_case_ids=first.sent_case_ids + second.sent_case_ids,
            reached_api=True,
        )
        return SyncResult(pull=pulled, push=pushed, online=True)

    def _note_push(self, result: PushResult) -> None:
        if result.reached_api:
            self._note_success()
            return
        unreachable = [
            item
            for item in self.store.outbox.items(PENDING)
            if item.last_error is not None and item.last_error.code == "unreachable"
        ]
        if unreachable:
            self.online = False

    def _note_success(self) -> None:
        self.online = True
        self.last_error = None

    def _note_failure(self, error: CaseApiError) -> None:
        if isinstance(error, ApiConnectionError):
            self.online = False
        elif isinstance(error, Unauthorized):
            self.online = True
        self.last_error = str(error)
