"""The durable outbox: actions waiting to reach the API, in their own precious file.

An item is `queued` until the sync engine takes it (`sending`); the answer
makes it `done`, `parked` (a person must act: edit, retry or discard), or
`queued` again with a later `next_attempt_at`. Items leave the file only
when discarded or pruned once done. Every change is fsynced before the call
returns.
"""

import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from casedesk.domain.actions import DECISION_ACTIONS, CaseAction, case_action_adapter
from casedesk.domain.clock import Clock
from casedesk.domain.create import NewCase
from casedesk.domain.enums import ActionType
from casedesk.store.errors import (
    InvalidTransition,
    OutboxCorrupt,
    StoreClosed,
    StoreFileCorrupt,
    UnknownItem,
)
from casedesk.store.files import read_bytes
from casedesk.store.outbox_item import (
    CREATE_TYPE,
    ItemError,
    ItemKind,
    OutboxItem,
    OutboxState,
    ParkReason,
)
from casedesk.store.storage import KeyedTinyDB, put_docs, remove_docs

OUTBOX_FILE = "outbox.json"
_TABLE = "items"


_ALLOWED: dict[str, frozenset[OutboxState]] = {
    "send": frozenset({OutboxState.QUEUED}),
    "mark done": frozenset({OutboxState.SENDING}),
    "schedule a retry of": frozenset({OutboxState.SENDING}),
    "park": frozenset({OutboxState.SENDING, OutboxState.QUEUED}),
    "retry": frozenset({OutboxState.PARKED}),
    "edit": frozenset({OutboxState.PARKED, OutboxState.QUEUED}),
    "discard": frozenset({OutboxState.PARKED, OutboxState.QUEUED}),
}
"""Which states each step may start from; anything else is `InvalidTransition`."""


class Outbox:
    """The queue of actions to send, one TinyDB file, every change fsynced before returning.

    Thread-safe: one lock around every call.
    """

    def __init__(self, path: Path, *, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._db = KeyedTinyDB(path)
        self._lock = threading.RLock()
        self._items: dict[str, OutboxItem] = {}
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, clock: Clock) -> tuple["Outbox", list[UUID]]:
        """Open the outbox; items caught `sending` by a crash are queued again (same keys).

        Returns the outbox and the ids of the items put back. Raises
        `OutboxCorrupt` (and writes nothing) if the file cannot be read.
        """
        outbox = cls(path, clock=clock)
        outbox._load()
        return outbox, outbox._recover()

    # -- reading -------------------------------------------------------------------------

    def items(self, states: Iterable[OutboxState] | None = None) -> list[OutboxItem]:
        """Items in outbox order, optionally only those in `states`."""
        wanted = frozenset(states) if states is not None else None
        with self._lock:
            ordered = sorted(self._items.values(), key=lambda item: item.seq)
        return [item for item in ordered if wanted is None or item.state in wanted]

    def get(self, item_id: UUID) -> OutboxItem:
        with self._lock:
            item = self._items.get(str(item_id))
        if item is None:
            raise UnknownItem(item_id)
        return item

    def for_case(self, case_id: UUID) -> list[OutboxItem]:
        """The case's items in the order they will be sent."""
        return [item for item in self.items() if item.case_id == case_id]

    def pending_count(self) -> int:
        with self._lock:
            return sum(1 for item in self._items.values() if item.pending)

    def pending_case_ids(self) -> set[UUID]:
        """Cases with a change not yet acknowledged (the queue's "unsynced" flag)."""
        with self._lock:
            return {
                item.case_id
                for item in self._items.values()
                if item.pending and item.case_id is not None
            }

    def unsent_document_ids(self) -> set[UUID]:
        """The `document_ids` of the comments not yet acknowledged (their copies are needed)."""
        with self._lock:
            return {
                UUID(str(document_id))
                for item in self._items.values()
                if item.state is not OutboxState.DONE
                for document_id in item.body.get("document_ids", ())
            }

    def next_sendable(self, now: datetime, *, ignore_backoff: bool = False) -> list[OutboxItem]:
        """Items that may be sent now, in order: the oldest unfinished item of each case, if due.

        An item parked, sending or waiting for its retry time holds back the
        later items of its own case only. `ignore_backoff` (a sync the user
        asked for) sends before `next_attempt_at`, never before `retry_after`.
        """
        held: set[UUID] = set()
        sendable: list[OutboxItem] = []
        for item in self.items():
            if item.state is OutboxState.DONE or item.fifo_key in held:
                continue
            held.add(item.fifo_key)
            if item.state is OutboxState.QUEUED and _due(item, now, ignore_backoff):
                sendable.append(item)
        return sendable

    # -- the state machine ---------------------------------------------------------------

    def enqueue(
        self,
        action: CaseAction,
        *,
        case_id: UUID,
        case_reference: str,
        seen_revision: int | None = None,
        queued_by: UUID | None = None,
    ) -> OutboxItem:
        """Queue an action on a case; returns once the item is on disk (fsynced).

        `seen_revision` is the case revision the reviewer acted on; decision
        actions (close, accept/refuse override) require it, as `If-Match`.
        """
        if_match = _if_match(ActionType(action.type), seen_revision)
        client_action_id = uuid4()
        with self._lock:
            self._check_open()
            item = OutboxItem(
                id=uuid4(),
                case_id=case_id,
                case_reference=case_reference,
                type=action.type,
                body=_action_body(action, client_action_id),
                state=OutboxState.QUEUED,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                created_at=self._clock(),
                kind=ItemKind.ACTION,
                client_action_id=client_action_id,
                idempotency_key=uuid4(),
                if_match=if_match,
                seq=self._next_seq(),
                queued_by=queued_by,
            )
            self._save(item)
            return item

    def enqueue_create(self, new_case: NewCase, *, queued_by: UUID | None = None) -> OutboxItem:
        """Queue the creation of a case; returns once the item is on disk (fsynced)."""
        with self._lock:
            self._check_open()
            item = OutboxItem(
                id=uuid4(),
                case_id=None,
                case_reference=None,
                type=CREATE_TYPE,
                body=new_case.model_dump(mode="json", exclude_unset=True),
                state=OutboxState.QUEUED,
                attempts=0,
                next_attempt_at=None,
                last_error=None,
                created_at=self._clock(),
                kind=ItemKind.CREATE_CASE,
                client_action_id=uuid4(),
                idempotency_key=uuid4(),
                if_match=None,
                seq=self._next_seq(),
                queued_by=queued_by,
            )
            self._save(item)
            return item

    def start_sending(self, item_id: UUID) -> OutboxItem:
        """`queued` -> `sending`, counting the attempt; call just before the request goes out."""
        with self._lock:
            item = self._step(item_id, "send")
            return self._save(
                item.model_copy(
                    update={
                        "state": OutboxState.SENDING,
                        "attempts": item.attempts + 1,
                        "sent_at": self._clock(),
                    }
                )
            )

    def mark_done(self, item_id: UUID) -> OutboxItem:
        """`sending` -> `done`: the API acknowledged the action (or replayed its answer)."""
        with self._lock:
            item = self._step(item_id, "mark done")
            return self._save(
                item.model_copy(
                    update={
                        "state": OutboxState.DONE,
                        "done_at": self._clock(),
                        "last_error": None,
                        "next_attempt_at": None,
                        "retry_after": None,
                    }
                )
            )

    def schedule_retry(
        self,
        item_id: UUID,
        *,
        error: ItemError,
        next_attempt_at: datetime,
        retry_after: datetime | None = None,
    ) -> OutboxItem:
        """`sending` -> `queued` after a transient failure; the keys stay the same."""
        with self._lock:
            item = self._step(item_id, "schedule a retry of")
            return self._save(
                item.model_copy(
                    update={
                        "state": OutboxState.QUEUED,
                        "last_error": error,
                        "next_attempt_at": next_attempt_at,
                        "retry_after": retry_after,
                    }
                )
            )

    def park(self, item_id: UUID, reason: ParkReason, error: ItemError) -> OutboxItem:
        """`sending` or `queued` -> `parked`: only a person can move it on."""
        with self._lock:
            item = self._step(item_id, "park")
            return self._save(
                item.model_copy(
                    update={"state": OutboxState.PARKED, "park_reason": reason, "last_error": error}
                )
            )

    def retry(self, item_id: UUID) -> OutboxItem:
        """`parked` -> `queued`, due at once, with the same body and keys."""
        with self._lock:
            return self._save(self._requeued(self._step(item_id, "retry")))

    def retry_parked(self, reason: ParkReason | None = None) -> list[OutboxItem]:
        """Queue again every parked item (with `reason`, if given), in one write."""
        with self._lock:
            self._check_open()
            items = [
                self._requeued(item)
                for item in self.items([OutboxState.PARKED])
                if reason is None or item.park_reason is reason
            ]
            self._save_all(items)
            return items

    def edit(
        self,
        item_id: UUID,
        body: CaseAction | NewCase,
        *,
        seen_revision: int | None = None,
    ) -> OutboxItem:
        """Replace the body of a parked item (or one never sent) and queue it.

        The new body gets a new Idempotency-Key and a new `client_action_id`:
        it is a different request. The item keeps its place in the outbox.
        """
        with self._lock:
            item = self._step(item_id, "edit")
            if item.state is OutboxState.QUEUED and item.attempts:
                raise InvalidTransition(item.id, "queued after an attempt", "edit")
            client_action_id = uuid4()
            if isinstance(body, NewCase):
                if item.kind is not ItemKind.CREATE_CASE:
                    raise ValueError(f"item {item.id} is a {item.type} action, not a new case")
                new_body, if_match = body.model_dump(mode="json", exclude_unset=True), None
            else:
                if item.kind is not ItemKind.ACTION or body.type != item.type:
                    raise ValueError(f"item {item.id} is a {item.type}, not a {body.type}")
                new_body = _action_body(body, client_action_id)
                if_match = _if_match(ActionType(body.type), seen_revision)
            edited = self._requeued(item).model_copy(
                update={
                    "body": new_body,
                    "client_action_id": client_action_id,
                    "idempotency_key": uuid4(),
                    "if_match": if_match,
                    "attempts": 0,
                    "last_error": None,
                    "sent_at": None,
                }
            )
            OutboxItem.model_validate(edited.model_dump())
            return self._save(edited)

    def discard(self, item_id: UUID) -> OutboxItem:
        """Remove a parked or queued item for good (the user chose to); returns it."""
        with self._lock:
            item = self._step(item_id, "discard")
            remove_docs(self._db.table(_TABLE), [str(item.id)])
            del self._items[str(item.id)]
            return item

    def prune_done(self, before: datetime) -> int:
        """Drop `done` items acknowledged before `before`; how many were dropped."""
        with self._lock:
            self._check_open()
            old = [
                key
                for key, item in self._items.items()
                if item.state is OutboxState.DONE and item.done_at is not None
                if item.done_at < before
            ]
            if old:
                remove_docs(self._db.table(_TABLE), old)
                for key in old:
                    del self._items[key]
            return len(old)

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- internals -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed()

    def _step(self, item_id: UUID, step: str) -> OutboxItem:
        self._check_open()
        item = self.get(item_id)
        if item.state not in _ALLOWED[step]:
            raise InvalidTransition(item.id, item.state.value, step)
        return item

    def _requeued(self, item: OutboxItem) -> OutboxItem:
        return item.model_copy(
            update={
                "state": OutboxState.QUEUED,
                "park_reason": None,
                "next_attempt_at": None,
                "retry_after": None,
            }
        )

    def _next_seq(self) -> int:
        return max((item.seq for item in self._items.values()), default=0) + 1

    def _save(self, item: OutboxItem) -> OutboxItem:
        self._save_all([item])
        return item

    def _save_all(self, items: list[OutboxItem]) -> None:
        # Memory follows the file only once the file is written: a failed
        # write leaves both as they were, and the caller gets the error.
        docs = {str(item.id): item.model_dump(mode="json") for item in items}
        put_docs(self._db.table(_TABLE), docs)
        for item in items:
            self._items[str(item.id)] = item

    def _load(self) -> None:
        if read_bytes(self.path) == b"":
            raise OutboxCorrupt(self.path, "the file is empty")
        try:
            raw = self._db.raw(_TABLE)
            items = {key: OutboxItem.model_validate(doc) for key, doc in raw.items()}
        except StoreFileCorrupt as error:
            raise OutboxCorrupt(self.path, error.reason) from None
        except ValidationError as error:
            raise OutboxCorrupt(self.path, f"an item has the wrong shape: {error}") from None
        if any(key != str(item.id) for key, item in items.items()):
            raise OutboxCorrupt(self.path, "an item is stored under another item's id")
        self._items = items

    def _recover(self) -> list[UUID]:
        caught = [
            item.model_copy(update={"state": OutboxState.QUEUED})
            for item in self.items([OutboxState.SENDING])
        ]
        if caught:
            with self._lock:
                self._save_all(caught)
        return [item.id for item in caught]


def _due(item: OutboxItem, now: datetime, ignore_backoff: bool) -> bool:
    if item.retry_after is not None and item.retry_after > now:
        return False
    return ignore_backoff or item.next_attempt_at is None or item.next_attempt_at <= now


def _if_match(action_type: ActionType, seen_revision: int | None) -> int | None:
    if action_type not in DECISION_ACTIONS:
        return None
    if seen_revision is None:
        raise ValueError(
            f"a {action_type.value} action needs the case revision the reviewer saw "
            "(seen_revision), sent as If-Match"
        )
    return seen_revision


def _action_body(action: CaseAction, client_action_id: UUID) -> dict[str, Any]:
    body = action.model_dump(mode="json", exclude_unset=True)
    body["client_action_id"] = str(client_action_id)
    case_action_adapter.validate_python(body)  # the body on disk is one the API accepts
    return body
