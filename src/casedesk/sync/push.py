"""Replaying the outbox: each item sent with its own Idempotency-Key until the API answers.

How an answer is classed (issue 3 / reliability-anchors 3.7):
2xx or a replayed answer -> done; connection error, timeout, 5xx, 409 in
flight -> retried later with the same key (backoff, full jitter); 429/503
-> not before `Retry-After`; 412 -> parked as a conflict; 422 -> parked as a
defect (never a new key); 401 -> parked, and the replay stops until the key
works; any other 4xx -> parked as rejected, with the API's message and field
paths. Nothing is ever dropped.

A 403 is the exception to the usual "credentials" reading: the replay asks
`GET /v1/me` first, so by then the key is known to work, and a 403 is the API
refusing this action to this user (a role or override rule). It is parked as
rejected, with the API's reason, rather than resent at every sync.
"""

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
from casedesk.domain.case import Case
from casedesk.domain.clock import Clock
from casedesk.domain.envelope import ErrorDetail
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


async def send_item(backend: CaseBackend, item: OutboxItem) -> Case:
    """One attempt at one item; the case as the API left it."""
    key = str(item.idempotency_key)
    if item.kind is ItemKind.CREATE_CASE:
        return await backend.create_case(item.new_case(), idempotency_key=key)
    assert item.case_id is not None
    result = await backend.act(
        item.case_id, item.action(), idempotency_key=key, if_match=item.if_match
    )
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
                case = await send_item(backend, sending)
            except CaseApiError as error:
                tally.reached = tally.reached or not isinstance(error, ApiConnectionError)
                _settle(outbox, sending, error, clock(), tally)
                if tally.stopped or isinstance(error, ApiConnectionError):
                    # Unreachable or refused: the rest would fail the same way.
                    tally.stopped = tally.stopped or isinstance(error, ApiConnectionError)
                    break
                continue
            outbox.mark_done(item.id)
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
