"""Replaying the outbox: each item sent with its own Idempotency-Key until the API answers.

How an answer is classed (issue 3 / reliability-anchors 3.7):
2xx or a replayed answer -> done; connection error, timeout, 5xx, 409 in
flight -> retried later with the same key (backoff, full jitter); 429/503
-> not before `Retry-After`; 412 -> parked as a conflict; 422 -> parked as a
defect (never a new key); 401 -> parked, and the replay stops until the key
works; any other 4xx -> parked as rejected, with the API's message and field
paths. Nothing is ever dropped.

A comment's attachments go first: each copy kept in the data directory is
uploaded with its own Idempotency-Key and the API's id recorded before the
next, so a lost answer re-uploads nothing new; the comment then goes out with
the API's ids. A copy gone or damaged parks the comment (the reviewer attaches
the file again).

A 403 is the exception to the usual "credentials" reading: the replay asks
`GET /v1/me` first, so by then the key is known to work, and a 403 is the API
refusing this action to this user (a role or override rule). It is parked as
rejected, with the API's reason, rather than resent at every sync.
"""

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from casedesk.api.backend import CaseBackend
from casedesk.api.errors import (
    ApiConnectionError,
    ApiStatusError,
    CaseApiError,
    Forbidden,
    IdempotencyMismatch,
    InvalidResponse,
    StaleRevision,
    Unauthorized,
    is_transient,
)
from casedesk.domain.actions import CaseAction, CommentAction
from casedesk.domain.case import Case
from casedesk.domain.clock import Clock
from casedesk.domain.envelope import ErrorDetail
from casedesk.store.attachments import AttachmentLost, Attachments
from casedesk.store.cache import Cache
from casedesk.store.outbox import Outbox
from casedesk.store.outbox_item import ItemError, ItemKind, OutboxItem, ParkReason
from casedesk.sync.events import PushResult

BACKOFF_FIRST = 2.0
BACKOFF_MAX = 300.0


def backoff(attempts: int) -> float:
    """Seconds before the next automatic try after `attempts` failures (full jitter)."""
    window = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** min(attempts - 1, 32))
    return random.uniform(window / 4, window)


def item_error(error: CaseApiError) -> ItemError:
    """The failure as the outbox keeps it: code, message and field paths, word for word."""
    if isinstance(error, ApiStatusError):
        return ItemError(
            code=error.code,
            message=error.message,
            details=[ErrorDetail(path=d.path, message=d.message) for d in error.details],
            status=error.status,
            data=error.data,
        )
    if isinstance(error, InvalidResponse):
        return ItemError(code="invalid_response", message=error.message, status=error.status)
    if isinstance(error, ApiConnectionError):
        return ItemError(code="unreachable", message=error.message)
    return ItemError(code="error", message=error.message)


@dataclass
class _Tally:
    sent: int = 0
    retrying: int = 0
    parked: int = 0
    stopped: bool = False
    reached: bool = False


async def with_uploads(
    backend: CaseBackend, attachments: Attachments | None, action: CaseAction
) -> CaseAction:
    """The action as sent: a comment's local attachment ids replaced by the API's.

    Files not uploaded yet are uploaded now, one at a time, each id recorded at once.
    An id that is not a local copy is already the API's and goes as it is.
    """
    if attachments is None or not isinstance(action, CommentAction) or not action.document_ids:
        return action
    sent_ids: list[UUID] = []
    for document_id in action.document_ids:
        staged = await asyncio.to_thread(attachments.get, document_id)
        if staged is None:
            sent_ids.append(document_id)
            continue
        if staged.document_id is None:
            content = await asyncio.to_thread(attachments.content, staged)
            document = await backend.upload_document(
                content,
                name=staged.name,
                content_type=staged.content_type,
                idempotency_key=str(staged.upload_key),
            )
            staged = await asyncio.to_thread(attachments.record_upload, staged, document.id)
        assert staged.document_id is not None
        sent_ids.append(staged.document_id)
    return action.model_copy(update={"document_ids": sent_ids})


def local_copies(item: OutboxItem) -> list[UUID]:
    """The ids in an item's `document_ids` (local copies among them) — to forget once done."""
    return [UUID(str(value)) for value in item.body.get("document_ids", ())]


async def send_item(
    backend: CaseBackend, item: OutboxItem, attachments: Attachments | None = None
) -> Case:
    """One attempt at one item (its attachments first); the case as the API left it."""
    key = str(item.idempotency_key)
    if item.kind is ItemKind.CREATE_CASE:
        return await backend.create_case(item.new_case(), idempotency_key=key)
    assert item.case_id is not None
    action = await with_uploads(backend, attachments, item.action())
    result = await backend.act(item.case_id, action, idempotency_key=key, if_match=item.if_match)
    return result.case


def _settle(
    outbox: Outbox,
    item: OutboxItem,
    error: CaseApiError,
    now: datetime,
    tally: _Tally,
    *,
    key_works: bool = True,
) -> None:
    """Record a failed attempt: retry later, or park it for a person."""
    failure = item_error(error)
    if is_transient(error):
        retry_after = getattr(error, "retry_after", None)
        wait = retry_after if retry_after is not None else backoff(item.attempts)
        deadline = now + timedelta(seconds=wait)
        outbox.schedule_retry(
            item.id,
            error=failure,
            next_attempt_at=deadline,
            retry_after=deadline if retry_after is not None else None,
        )
        tally.retrying += 1
        return
    if isinstance(error, Unauthorized) or (isinstance(error, Forbidden) and not key_works):
        reason = ParkReason.NEEDS_CREDENTIALS
        tally.stopped = True
    elif isinstance(error, StaleRevision):
        reason = ParkReason.CONFLICT
    elif isinstance(error, IdempotencyMismatch):
        reason = ParkReason.DEFECT
    else:
        reason = ParkReason.REJECTED
    outbox.park(item.id, reason, failure)
    tally.parked += 1


def _not_yours(outbox: Outbox, item: OutboxItem, user_id: UUID) -> None:
    """Park an item another user queued: it must never go out under this key."""
    outbox.park(
        item.id,
        ParkReason.NEEDS_CREDENTIALS,
        ItemError(
            code="queued_by_another_user",
            message=(
                "queued by another user of this profile; it is sent only with their key "
                f"(this key belongs to user {user_id})"
            ),
        ),
    )


async def push(
    backend: CaseBackend,
    outbox: Outbox,
    cache: Cache,
    *,
    clock: Clock,
    ignore_backoff: bool = False,
    attachments: Attachments | None = None,
) -> PushResult:
    """Send every item that may go now, oldest first per case, until none is left to try.

    The key's user is asked first (`GET /v1/me`): an item queued by someone else is
    parked, never sent under this key.
    """
    tally = _Tally()
    if not outbox.next_sendable(clock(), ignore_backoff=ignore_backoff):
        return PushResult()
    try:
        me = await backend.me()
    except CaseApiError as error:
        # The API could not be asked: every item due now shares this failed attempt.
        tally.reached = not isinstance(error, ApiConnectionError)
        due = outbox.next_sendable(clock(), ignore_backoff=ignore_backoff)
        if not is_transient(error):
            due = due[:1]  # a refused key: the first item says why, the rest wait untouched
        for item in due:
            _settle(outbox, outbox.start_sending(item.id), error, clock(), tally, key_works=False)
        return PushResult(
            retrying=tally.retrying,
            parked=tally.parked,
            stopped_for_credentials=tally.stopped,
            reached_api=tally.reached,
        )
    tally.reached = True
    sent_cases: list[str] = []
    tried: set[object] = set()
    while not tally.stopped:
        due = [
            item
            for item in outbox.next_sendable(clock(), ignore_backoff=ignore_backoff)
            if item.id not in tried
        ]
        if not due:
            break
        for item in due:
            tried.add(item.id)
            if item.queued_by is not None and item.queued_by != me.id:
                _not_yours(outbox, item, me.id)
                tally.parked += 1
                continue
            sending = outbox.start_sending(item.id)
            try:
                case = await send_item(backend, sending, attachments)
            except AttachmentLost as error:
                outbox.park(
                    item.id,
                    ParkReason.REJECTED,
                    ItemError(
                        code="attachment_lost",
                        message=str(error),
                        details=[ErrorDetail(path="document_ids", message=str(error))],
                    ),
                )
                tally.parked += 1
                continue
            except CaseApiError as error:
                tally.reached = tally.reached or not isinstance(error, ApiConnectionError)
                _settle(outbox, sending, error, clock(), tally)
                if tally.stopped or isinstance(error, ApiConnectionError):
                    # Unreachable or refused: the rest would fail the same way.
                    tally.stopped = tally.stopped or isinstance(error, ApiConnectionError)
                    break
                continue
            outbox.mark_done(item.id)
            if attachments is not None:
                attachments.remove(local_copies(item))
            cache.upsert_cases([case])
            tally.sent += 1
            sent_cases.append(str(case.id))
    return PushResult(
        sent=tally.sent,
        retrying=tally.retrying,
        parked=tally.parked,
        stopped_for_credentials=any(
            i.park_reason is ParkReason.NEEDS_CREDENTIALS for i in outbox.items()
        ),
        sent_case_ids=sent_cases,
        reached_api=tally.reached,
    )
