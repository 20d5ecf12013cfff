"""Offline: reads answer from the cache, actions wait in the outbox and land once on reconnect.

"Offline" is the real thing: the module's server is stopped, and started
again on the same port and data dir (it keeps its database).
"""

from typing import Any

from synckit import Server, action_log, entries_for, server_cases

from casedesk.domain.actions import CommentAction, EscalateAction, QueryAction
from casedesk.domain.enums import ActionType
from casedesk.store.outbox import OutboxState


def comment(text: str) -> CommentAction:
    return CommentAction(type=ActionType.COMMENT, body=text)


def open_rows(service: Any, count: int) -> list[Any]:
    rows = [row for row in service.queue() if row.status.value in {"open", "in_progress"}]
    assert len(rows) >= count
    return rows[:count]


async def test_reads_answer_from_the_cache_while_the_server_is_down(
    up: Server, services: Any
) -> None:
    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    assert service.online is True
    queue = service.queue()
    mine = service.queue(view="mine")
    row = next(r for r in queue if r.assignee_id == service.me().id and r.status.value != "closed")
    cached = service.case(row.reference)
    assert cached is not None and cached.fetched

    up.stop()

    assert service.queue() == queue
    assert service.queue(view="mine") == mine
    assert service.queue("status:open") == [r for r in queue if r.status.value == "open"]
    assert service.case(row.reference) == cached
    opened = await service.open_case(row.reference)
    assert opened == cached
    assert service.online is False
    assert service.last_error
    result = await service.sync()
    assert result.pull is None and result.online is False and result.error
    assert service.queue() == queue, "a failed sync leaves the cache as it was"


async def test_actions_queued_offline_are_pushed_once_in_order_on_reconnect(
    up: Server, services: Any
) -> None:
    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    first, second = open_rows(service, 2)
    up.stop()

    queued = [
        await service.act(first.reference, comment("one, written offline")),
        await service.act(first.reference, comment("two, written offline")),
        await service.act(second.reference, comment("three, on another case")),
        await service.act(
            first.reference,
            EscalateAction(type=ActionType.ESCALATE, reason="four, after the comments"),
        ),
    ]

    assert [q.sent for q in queued] == [False] * 4
    assert all(item.pending for item in service.outbox())
    assert {item.state for item in service.outbox()} == {OutboxState.QUEUED}
    assert queued[0].item.last_error is not None
    assert queued[0].item.last_error.code == "unreachable"
    assert service.online is False
    assert service.pending_case_ids() == {first.id, second.id}
    assert [q.item.attempts for q in queued] == [1, 0, 1, 0], "later items of a case wait"

    up.start()
    result = await service.sync()

    assert result.online and result.error is None
    assert result.push.sent == 4 and result.push.parked == 0
    assert service.online is True
    assert service.outbox() == [] and service.pending_case_ids() == set()
    items = [service.store.outbox.get(q.item.id) for q in queued]
    assert {item.state for item in items} == {OutboxState.DONE}
    with up.client(up.key("reviewer")) as reviewer:
        for item in items:
            assert len(entries_for(reviewer, item.case_id, item.client_action_id)) == 1
        log = action_log(reviewer, first.id)
        ours = [e["client_action_id"] for e in log if e["client_action_id"] is not None]
        wanted = [str(item.client_action_id) for item in items if item.case_id == first.id]
        assert [cid for cid in ours if cid in wanted] == wanted, "per-case order kept"
        revisions = [e["case_revision"] for e in log if e["client_action_id"] in wanted]
        assert revisions == sorted(revisions)
        assert (
            service.find(first.reference).revision
            == server_cases(reviewer)[str(first.id)]["revision"]
        )

    again = await service.sync()
    assert again.push.sent == 0
    with up.client(up.key("reviewer")) as reviewer:
        for item in items:
            assert len(entries_for(reviewer, item.case_id, item.client_action_id)) == 1


async def test_a_queued_action_survives_a_restart_and_is_sent_once_after(
    up: Server, services: Any, tmp_path: Any
) -> None:
    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    (row,) = open_rows(service, 1)
    up.stop()
    queued = await service.act(
        row.reference, QueryAction(type=ActionType.QUERY, prompt="Please send the statutes")
    )
    assert not queued.sent
    await services.close(service)  # the console quits with the item queued

    up.start()
    reopened = services(up.base_url, up.key("reviewer"), data_dir=tmp_path / "data")
    (item,) = reopened.outbox()
    assert item.id == queued.item.id and item.pending
    assert item.idempotency_key == queued.item.idempotency_key
    assert item.body == queued.item.body
    assert reopened.pending_case_ids() == {row.id}

    result = await reopened.sync()

    assert result.push.sent == 1
    assert reopened.store.outbox.get(item.id).state is OutboxState.DONE
    with up.client(up.key("reviewer")) as reviewer:
        (entry,) = entries_for(reviewer, row.id, item.client_action_id)
        assert entry["type"] == "query"
        assert server_cases(reviewer)[str(row.id)]["status"] == "querying"
    assert reopened.find(row.reference).status.value == "querying"


async def test_a_parked_item_holds_back_its_own_case_only(up: Server, services: Any) -> None:
    from casedesk.domain.actions import EscalationUpdate, UpdateEscalationAction

    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    first, second = open_rows(service, 2)
    up.stop()
    bad = await service.act(
        first.reference,
        UpdateEscalationAction(
            type=ActionType.UPDATE_ESCALATION,
            escalations=[
                EscalationUpdate(escalation_id="00000000-0000-4000-8000-000000000000", note="x")
            ],
        ),
    )
    after_bad = await service.act(first.reference, comment("after the refused one"))
    other = await service.act(second.reference, comment("on another case"))
    up.start()

    result = await service.sync()

    assert result.push.sent == 1 and result.push.parked == 1
    states = {q.item.id: service.store.outbox.get(q.item.id) for q in (bad, after_bad, other)}
    assert states[bad.item.id].state is OutboxState.PARKED
    assert states[after_bad.item.id].state is OutboxState.QUEUED
    assert states[after_bad.item.id].attempts == 0, "never sent ahead of the parked item"
    assert states[other.item.id].state is OutboxState.DONE
    with up.client(up.key("reviewer")) as reviewer:
        assert entries_for(reviewer, first.id, after_bad.item.client_action_id) == []
        assert len(entries_for(reviewer, second.id, other.item.client_action_id)) == 1

    service.discard(bad.item.id)  # the reviewer gives up on it: the comment may go now
    await service.push()
    assert service.store.outbox.get(after_bad.item.id).state is OutboxState.DONE
    with up.client(up.key("reviewer")) as reviewer:
        assert len(entries_for(reviewer, first.id, after_bad.item.client_action_id)) == 1


async def test_online_turns_true_as_soon_as_the_api_answers_even_with_a_refusal(
    up: Server, services: Any
) -> None:
    from casedesk.domain.actions import EscalationUpdate, UpdateEscalationAction

    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    (row,) = open_rows(service, 1)
    up.stop()
    await service.open_case(row.reference)
    assert service.online is False
    up.start()

    queued = await service.act(
        row.reference,
        UpdateEscalationAction(
            type=ActionType.UPDATE_ESCALATION,
            escalations=[EscalationUpdate(escalation_id="00000000-0000-4000-8000-000000000000")],
        ),
    )

    assert queued.item.state is OutboxState.PARKED, "the API answered (400)"
    assert service.online is True


async def test_a_decision_queued_after_own_offline_actions_expects_their_revision(
    up: Server, services: Any
) -> None:
    from casedesk.domain.actions import CloseAction

    service = services(up.base_url, up.key("reviewer"))
    await service.sync(full=True)
    row = next(
        r
        for r in service.queue()
        if r.status.value in {"open", "in_progress"} and r.pending_override_id is None
    )
    up.stop()

    await service.act(row.reference, comment("last words before closing"))
    closing = await service.act(
        row.reference, CloseAction(type=ActionType.CLOSE, decision="approve")
    )
    # The reviewer's own comment goes first and moves the revision on by one.
    assert closing.item.if_match == row.revision + 1

    up.start()
    await service.sync()
    assert {item.state for item in service.outbox(include_done=True)} == {OutboxState.DONE}
    with up.client(up.key("reviewer")) as reviewer:
        assert [entry["type"] for entry in action_log(reviewer, row.id)][-2:] == [
            "comment",
            "close",
        ]
