"""The outbox against a model: any sequence of steps and restarts keeps its promises."""

import tempfile
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from casedesk.domain.actions import CommentAction
from casedesk.store import InvalidTransition, ItemError, OutboxState, ParkReason
from casedesk.store.outbox import Outbox

from .factories import T0, make_cases

CASES = make_cases(3, seed=5)
ERROR = ItemError(code="boom", message="boom")


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name) / "outbox.json"
        self.now = T0
        self.outbox, _ = Outbox.open(self.path, clock=lambda: self.now)
        self.model: dict[UUID, tuple[int, OutboxState]] = {}  # id -> (case, state)
        self.order: list[UUID] = []
        self.keys: dict[UUID, UUID] = {}

    def teardown(self) -> None:
        self.outbox.close()
        self._dir.cleanup()

    def _ids(self, *states: OutboxState) -> list[UUID]:
        return [item_id for item_id in self.order if self.model[item_id][1] in states]

    @rule(case=st.integers(0, 2))
    def enqueue(self, case: int) -> None:
        target = CASES[case]
        item = self.outbox.enqueue(
            CommentAction(type="comment", body="hello"),
            case_id=target.id,
            case_reference=target.reference,
        )
        self.model[item.id] = (case, OutboxState.QUEUED)
        self.order.append(item.id)
        self.keys[item.id] = item.idempotency_key

    @rule()
    def send_what_is_sendable(self) -> None:
        for item in self.outbox.next_sendable(self.now):
            self.outbox.start_sending(item.id)
            self.model[item.id] = (self.model[item.id][0], OutboxState.SENDING)

    @precondition(lambda self: self._ids(OutboxState.SENDING))
    @rule(data=st.data(), outcome=st.sampled_from(["done", "retry", "park"]))
    def answer(self, data: st.DataObject, outcome: str) -> None:
        item_id = data.draw(st.sampled_from(self._ids(OutboxState.SENDING)))
        case = self.model[item_id][0]
        if outcome == "done":
            self.outbox.mark_done(item_id)
            self.model[item_id] = (case, OutboxState.DONE)
        elif outcome == "retry":
            later = self.now + timedelta(seconds=data.draw(st.integers(0, 60)))
            self.outbox.schedule_retry(item_id, error=ERROR, next_attempt_at=later)
            self.model[item_id] = (case, OutboxState.QUEUED)
        else:
            self.outbox.park(item_id, ParkReason.REJECTED, ERROR)
            self.model[item_id] = (case, OutboxState.PARKED)

    @precondition(lambda self: self._ids(OutboxState.PARKED))
    @rule(data=st.data(), choice=st.sampled_from(["retry", "edit", "discard"]))
    def person_acts(self, data: st.DataObject, choice: str) -> None:
        item_id = data.draw(st.sampled_from(self._ids(OutboxState.PARKED)))
        case = self.model[item_id][0]
        if choice == "discard":
            self.outbox.discard(item_id)
            del self.model[item_id]
            self.order.remove(item_id)
            return
        if choice == "edit":
            edited = self.outbox.edit(item_id, CommentAction(type="comment", body="edited"))
            assert edited.idempotency_key != self.keys[item_id]
            self.keys[item_id] = edited.idempotency_key
        else:
            assert self.outbox.retry(item_id).idempotency_key == self.keys[item_id]
        self.model[item_id] = (case, OutboxState.QUEUED)

    @precondition(lambda self: self.order)
    @rule(data=st.data())
    def wrong_step_is_refused(self, data: st.DataObject) -> None:
        item_id = data.draw(st.sampled_from(self.order))
        if self.model[item_id][1] is not OutboxState.SENDING:
            try:
                self.outbox.mark_done(item_id)
            except InvalidTransition:
                return
            raise AssertionError("mark_done accepted an item that was not sending")

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def restart(self) -> None:
        self.outbox.close()
        self.outbox, recovered = Outbox.open(self.path, clock=lambda: self.now)
        assert set(recovered) == set(self._ids(OutboxState.SENDING))
        for item_id in recovered:
            self.model[item_id] = (self.model[item_id][0], OutboxState.QUEUED)

    @invariant()
    def matches_the_model(self) -> None:
        items = self.outbox.items()
        assert [item.id for item in items] == self.order
        assert {item.id: item.state for item in items} == {k: v[1] for k, v in self.model.items()}
        assert {item.id: item.idempotency_key for item in items} == {
            item_id: self.keys[item_id] for item_id in self.order
        }

    @invariant()
    def sendable_is_the_head_of_each_case(self) -> None:
        sendable = self.outbox.next_sendable(self.now, ignore_backoff=True)
        heads: dict[int, UUID] = {}
        for item_id in self.order:
            case, state = self.model[item_id]
            if state is not OutboxState.DONE:
                heads.setdefault(case, item_id)
        expected = [
            item_id for item_id in heads.values() if self.model[item_id][1] is OutboxState.QUEUED
        ]
        assert sorted(item.id for item in sendable) == sorted(expected)


OutboxMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_outbox_keeps_its_promises_under_any_sequence = OutboxMachine.TestCase
