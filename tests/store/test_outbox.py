"""The outbox: durable enqueue, the state machine, FIFO per case, restart, corruption."""

import errno
import os
import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from casedesk.domain.actions import (
    AssignAction,
    CloseAction,
    CommentAction,
    EscalateAction,
    RefuseOverrideAction,
)
from casedesk.domain.create import NewCase
from casedesk.store import (
    InvalidTransition,
    ItemError,
    LocalStore,
    OutboxCorrupt,
    OutboxItem,
    OutboxRecovered,
    OutboxState,
    ParkReason,
    UnknownItem,
)
from casedesk.store.outbox import OUTBOX_FILE

from .factories import make_cases
from .support import Clock, reopen

CASE_A, CASE_B = make_cases(2, seed=11)
TIMEOUT = ItemError(code="timeout", message="no answer within 10 s")
REFUSED = ItemError(
    code="validation_error",
    message="body is too long",
    details=[{"path": "body", "message": "at most 10000 characters"}],
    status=400,
)


def comment(text: str = "looks fine") -> CommentAction:
    return CommentAction(type="comment", body=text)


def enqueue(store: LocalStore, case=CASE_A, text: str = "looks fine") -> OutboxItem:
    return store.outbox.enqueue(comment(text), case_id=case.id, case_reference=case.reference)


def test_an_enqueued_action_carries_fresh_keys_and_the_body_it_will_send(
    store: LocalStore, clock: Clock
) -> None:
    first, second = enqueue(store), enqueue(store)

    assert first.state is OutboxState.QUEUED and first.attempts == 0
    assert first.created_at == clock.now
    keys = {first.id, first.client_action_id, first.idempotency_key, second.idempotency_key}
    assert len(keys) == 4 and all(key.version == 4 for key in keys)
    assert first.body == {
        "type": "comment",
        "body": "looks fine",
        "client_action_id": str(first.client_action_id),
    }
    assert first.if_match is None
    assert [item.id for item in store.outbox.items()] == [first.id, second.id]


def test_the_json_form_is_what_casedesk_outbox_prints(store: LocalStore) -> None:
    item = enqueue(store)
    shown = orjson.loads(item.model_dump_json())
    assert list(shown)[:10] == [
        "id",
        "case_id",
        "case_reference",
        "type",
        "body",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    ]
    assert shown["case_reference"] == CASE_A.reference
    assert shown["type"] == "comment" and shown["state"] == "queued"
    assert shown["created_at"].endswith("Z")


def test_decision_actions_need_the_revision_the_reviewer_saw(store: LocalStore) -> None:
    close = CloseAction(type="close", decision="approve")
    with pytest.raises(ValueError, match="If-Match"):
        store.outbox.enqueue(close, case_id=CASE_A.id, case_reference=CASE_A.reference)
    item = store.outbox.enqueue(
        close, case_id=CASE_A.id, case_reference=CASE_A.reference, seen_revision=4
    )
    assert item.if_match == 4
    escalate = EscalateAction(type="escalate", reason="UBO unclear")
    plain = store.outbox.enqueue(
        escalate, case_id=CASE_B.id, case_reference=CASE_B.reference, seen_revision=4
    )
    assert plain.if_match is None


def test_an_explicit_null_is_kept_in_the_body(store: LocalStore) -> None:
    unassign = AssignAction(type="assign", assignee_id=None)
    item = store.outbox.enqueue(unassign, case_id=CASE_A.id, case_reference=CASE_A.reference)
    assert item.body["assignee_id"] is None


def test_a_sent_action_goes_queued_sending_done(store: LocalStore, clock: Clock) -> None:
    item = enqueue(store)
    sending = store.outbox.start_sending(item.id)
    assert sending.state is OutboxState.SENDING and sending.attempts == 1
    assert sending.sent_at == clock.now
    assert sending.pending and store.outbox.pending_count() == 1
    clock.now += timedelta(seconds=2)
    done = store.outbox.mark_done(item.id)
    assert done.state is OutboxState.DONE and done.done_at == clock.now
    assert store.outbox.pending_count() == 0
    assert store.outbox.pending_case_ids() == set()


def test_a_transient_failure_queues_it_again_with_the_same_keys(
    store: LocalStore, clock: Clock
) -> None:
    item = enqueue(store)
    store.outbox.start_sending(item.id)
    later = clock.now + timedelta(seconds=30)
    again = store.outbox.schedule_retry(item.id, error=TIMEOUT, next_attempt_at=later)
    assert again.state is OutboxState.QUEUED and again.last_error == TIMEOUT
    assert (again.idempotency_key, again.client_action_id, again.body) == (
        item.idempotency_key,
        item.client_action_id,
        item.body,
    )
    assert store.outbox.next_sendable(clock.now) == []
    assert store.outbox.next_sendable(clock.now, ignore_backoff=True) == [again]
    assert store.outbox.next_sendable(later) == [again]


def test_retry_after_holds_even_a_sync_the_user_asked_for(store: LocalStore, clock: Clock) -> None:
    item = enqueue(store)
    store.outbox.start_sending(item.id)
    until = clock.now + timedelta(seconds=20)
    store.outbox.schedule_retry(
        item.id, error=TIMEOUT, next_attempt_at=clock.now + timedelta(seconds=5), retry_after=until
    )
    assert store.outbox.next_sendable(clock.now, ignore_backoff=True) == []
    assert [i.id for i in store.outbox.next_sendable(until, ignore_backoff=True)] == [item.id]


def test_a_parked_item_holds_back_later_items_of_its_case_only(
    store: LocalStore, clock: Clock
) -> None:
    a1, b1 = enqueue(store, CASE_A, "a1"), enqueue(store, CASE_B, "b1")
    a2, b2 = enqueue(store, CASE_A, "a2"), enqueue(store, CASE_B, "b2")
    assert [i.id for i in store.outbox.next_sendable(clock.now)] == [a1.id, b1.id]

    store.outbox.start_sending(a1.id)
    store.outbox.park(a1.id, ParkReason.REJECTED, REFUSED)
    store.outbox.start_sending(b1.id)
    store.outbox.mark_done(b1.id)
    assert [i.id for i in store.outbox.next_sendable(clock.now)] == [b2.id]

    store.outbox.retry(a1.id)
    assert [i.id for i in store.outbox.next_sendable(clock.now)] == [a1.id, b2.id]
    store.outbox.discard(a1.id)
    assert [i.id for i in store.outbox.next_sendable(clock.now)] == [a2.id, b2.id]


def test_an_item_waiting_for_its_retry_holds_back_its_case(store: LocalStore, clock: Clock) -> None:
    a1, a2 = enqueue(store, CASE_A, "a1"), enqueue(store, CASE_A, "a2")
    store.outbox.start_sending(a1.id)
    assert store.outbox.next_sendable(clock.now) == []  # a1 is in flight
    store.outbox.schedule_retry(
        a1.id, error=TIMEOUT, next_attempt_at=clock.now + timedelta(minutes=1)
    )
    assert store.outbox.next_sendable(clock.now) == []
    assert store.outbox.for_case(CASE_A.id) == [store.outbox.get(a1.id), a2]


def test_editing_a_parked_item_makes_a_new_request_in_the_same_place(
    store: LocalStore, clock: Clock
) -> None:
    item = enqueue(store, text="x" * 20)
    store.outbox.start_sending(item.id)
    store.outbox.park(item.id, ParkReason.REJECTED, REFUSED)

    edited = store.outbox.edit(item.id, comment("shorter"))
    assert edited.state is OutboxState.QUEUED and edited.park_reason is None
    assert edited.id == item.id and edited.seq == item.seq
    assert edited.idempotency_key != item.idempotency_key
    assert edited.client_action_id != item.client_action_id
    assert edited.body["body"] == "shorter"
    assert edited.body["client_action_id"] == str(edited.client_action_id)
    assert edited.attempts == 0 and edited.last_error is None


def test_a_conflict_is_edited_with_the_revision_seen_now(store: LocalStore) -> None:
    refuse = RefuseOverrideAction(
        type="refuse_override", override_id=uuid.uuid4(), comment="no basis"
    )
    item = store.outbox.enqueue(
        refuse, case_id=CASE_A.id, case_reference=CASE_A.reference, seen_revision=3
    )
    store.outbox.start_sending(item.id)
    store.outbox.park(item.id, ParkReason.CONFLICT, ItemError(code="stale", message="", status=412))
    with pytest.raises(ValueError, match="If-Match"):
        store.outbox.edit(item.id, refuse)
    assert store.outbox.edit(item.id, refuse, seen_revision=5).if_match == 5
    with pytest.raises(ValueError, match="not a comment"):
        store.outbox.edit(item.id, comment())  # an edit keeps the action type


@pytest.mark.parametrize(
    ("setup", "step"),
    [
        ([], "mark_done"),
        ([], "retry"),
        (["start_sending"], "start_sending"),
        (["start_sending"], "edit"),
        (["start_sending"], "discard"),
        (["start_sending", "mark_done"], "park"),
        (["start_sending", "mark_done"], "discard"),
        (["start_sending", "retry_later"], "edit"),  # it may have reached the server
    ],
)
def test_steps_out_of_order_are_refused(store: LocalStore, setup: list[str], step: str) -> None:
    item = enqueue(store)
    calls = {
        "start_sending": lambda: store.outbox.start_sending(item.id),
        "mark_done": lambda: store.outbox.mark_done(item.id),
        "retry": lambda: store.outbox.retry(item.id),
        "edit": lambda: store.outbox.edit(item.id, comment("new")),
        "discard": lambda: store.outbox.discard(item.id),
        "park": lambda: store.outbox.park(item.id, ParkReason.REJECTED, REFUSED),
        "retry_later": lambda: store.outbox.schedule_retry(
            item.id, error=TIMEOUT, next_attempt_at=item.created_at
        ),
    }
    for name in setup:
        calls[name]()
    before = store.outbox.get(item.id)
    with pytest.raises(InvalidTransition):
        calls[step]()
    assert store.outbox.get(item.id) == before


def test_an_unknown_item_is_named(store: LocalStore) -> None:
    missing = uuid.uuid4()
    with pytest.raises(UnknownItem, match=str(missing)):
        store.outbox.start_sending(missing)


def test_after_a_crash_items_caught_sending_are_queued_again_with_their_keys(
    store: LocalStore, clock: Clock
) -> None:
    sending, queued = enqueue(store, CASE_A), enqueue(store, CASE_B)
    in_flight = store.outbox.start_sending(sending.id)

    restarted = reopen(store, clock)
    try:
        assert restarted.take_events() == [OutboxRecovered(item_ids=(sending.id,))]
        back = restarted.outbox.get(sending.id)
        assert back.state is OutboxState.QUEUED and back.attempts == 1
        assert back.idempotency_key == in_flight.idempotency_key
        assert restarted.outbox.get(queued.id) == queued
        assert [i.id for i in restarted.outbox.next_sendable(clock.now)] == [
            sending.id,
            queued.id,
        ]
    finally:
        restarted.close()


def test_new_credentials_requeue_items_parked_for_them(store: LocalStore) -> None:
    a, b = enqueue(store, CASE_A), enqueue(store, CASE_B)
    for item, reason in ((a, ParkReason.NEEDS_CREDENTIALS), (b, ParkReason.REJECTED)):
        store.outbox.start_sending(item.id)
        store.outbox.park(item.id, reason, REFUSED)
    requeued = store.outbox.retry_parked(ParkReason.NEEDS_CREDENTIALS)
    assert [item.id for item in requeued] == [a.id]
    assert store.outbox.get(b.id).state is OutboxState.PARKED


def test_done_items_are_pruned_on_demand_only(store: LocalStore, clock: Clock) -> None:
    old, recent = enqueue(store), enqueue(store, CASE_B)
    for item in (old, recent):
        store.outbox.start_sending(item.id)
        store.outbox.mark_done(item.id)
        clock.now += timedelta(hours=2)
    assert store.outbox.prune_done(before=clock.now - timedelta(hours=3)) == 1
    assert [item.id for item in store.outbox.items()] == [recent.id]


def test_a_create_case_item_is_its_own_fifo(store: LocalStore, clock: Clock) -> None:
    created = store.outbox.enqueue_create(NewCase(name="Acme Ltd"))
    assert created.type == "create" and created.case_id is None
    assert created.body == {"name": "Acme Ltd"}
    assert created.new_case().name == "Acme Ltd"
    other = enqueue(store)
    assert [i.id for i in store.outbox.next_sendable(clock.now)] == [created.id, other.id]


def test_every_change_is_on_disk_when_the_call_returns(store: LocalStore, clock: Clock) -> None:
    item = enqueue(store)
    store.outbox.start_sending(item.id)
    # What another process would read now, without any close or flush:
    stored = orjson.loads((store.data_dir / OUTBOX_FILE).read_bytes())["items"][str(item.id)]
    assert stored["state"] == "sending" and stored["attempts"] == 1


def test_an_enqueue_that_cannot_be_fsynced_is_not_acknowledged(
    store: LocalStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = enqueue(store, text="kept")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        enqueue(store, text="lost")
    monkeypatch.undo()

    assert store.outbox.items() == [kept]
    assert not list(store.data_dir.glob(".*.tmp"))
    restarted = reopen(store, clock)
    assert restarted.outbox.items() == [kept]
    restarted.close()


@pytest.mark.parametrize(
    "content",
    [
        b'{"items": {"1": {"id": ',  # torn
        b"\x00" * 64,  # NULs
        b"",  # empty
        b'{"items": {"x": {"state": "queued"}}}',  # valid JSON, wrong shape
        b"[1, 2, 3]",
    ],
    ids=["torn", "nul", "empty", "wrong-shape", "not-tables"],
)
def test_a_corrupt_outbox_is_left_byte_identical_and_named(
    data_dir: Path, clock: Clock, content: bytes
) -> None:
    data_dir.mkdir()
    outbox = data_dir / OUTBOX_FILE
    outbox.write_bytes(content)

    store = LocalStore.open(data_dir, clock=clock, freeze_gc=False)
    try:
        assert store.outbox_problem is not None
        with pytest.raises(OutboxCorrupt) as caught:
            _ = store.outbox
        assert caught.value.path == outbox
        assert str(outbox) in str(caught.value)
        assert store.cache.rows() == []  # browsing the cache still works
        store.drafts.save(None, "create_case", {"name": "Acme"})
    finally:
        store.close()
    assert outbox.read_bytes() == content
    assert [path.name for path in data_dir.glob(f"{OUTBOX_FILE}*")] == [OUTBOX_FILE]
