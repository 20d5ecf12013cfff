"""How the outbox replay classes each answer of the API (reliability-anchors 3.7).

2xx or a replayed 2xx -> done; 5xx -> retried later with the same key;
429 -> not before `Retry-After`; 412 -> parked conflict; 422 -> parked
defect; 401 -> parked for credentials and the replay stops (a 403 once the key is
known to work is a rejection of that action); other 4xx
-> parked rejected with the API's message. Effects are counted in the
server's action log.
"""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from synckit import (
    Server,
    all_pages,
    comment_on,
    entries_for,
    post_action,
    server_case,
    server_cases,
)

from casedesk.api.retry import RetryPolicy
from casedesk.domain.actions import (
    CloseAction,
    CommentAction,
    EscalationUpdate,
    UpdateEscalationAction,
)
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType, Decision
from casedesk.store.outbox import OutboxState, ParkReason

Json = dict[str, Any]
WRONG_KEY = "cdk_" + "0" * 40


def comment(text: str) -> CommentAction:
    return CommentAction(type=ActionType.COMMENT, body=text)


def open_rows(service: Any, count: int) -> list[Any]:
    rows = [row for row in service.queue() if row.status.value in {"open", "in_progress"}]
    assert len(rows) >= count
    return rows[:count]


async def synced(services: Any, server: Server, **options: Any) -> Any:
    service = services(server.base_url, server.key("reviewer"), **options)
    result = await service.sync(full=True)
    assert result.error is None
    return service


# -- 2xx replayed ----------------------------------------------------------------------


async def test_a_replay_after_the_answer_was_lost_gives_one_effect(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    service = await synced(services, server)
    (row,) = open_rows(service, 1)
    queued = await service.act(row.reference, comment("the answer got lost"), send=False)
    item = queued.item
    assert not queued.sent and item.attempts == 0
    # The first attempt reached the server, which committed it; the answer never came back.
    first = post_action(reviewer, row.id, item.body, key=str(item.idempotency_key))
    assert len(entries_for(reviewer, row.id, item.client_action_id)) == 1

    result = await service.push()

    assert result.sent == 1
    done = service.store.outbox.get(item.id)
    assert done.state is OutboxState.DONE and done.idempotency_key == item.idempotency_key
    assert len(entries_for(reviewer, row.id, item.client_action_id)) == 1
    assert service.find(row.reference).revision == first["data"]["case"]["revision"]


# -- 5xx --------------------------------------------------------------------------------


async def test_a_server_error_is_retried_later_with_the_same_key(
    server: Server, error_server: Server, services: Any, tmp_path: Any
) -> None:
    service = await synced(services, server)
    (row,) = open_rows(service, 1)
    await services.close(service)
    failing = services(error_server.base_url, server.key("reviewer"), data_dir=tmp_path / "data")

    before = datetime.now(UTC)
    queued = await failing.act(row.reference, comment("during an outage"))

    item = queued.item
    assert not queued.sent and item.state is OutboxState.QUEUED and item.park_reason is None
    assert item.attempts == 1 and item.last_error is not None and item.last_error.status == 500
    assert item.next_attempt_at is not None and item.next_attempt_at > before
    assert item.retry_after is None
    pushed_at = datetime.now(UTC)
    await failing.push()  # the automatic replay respects the backoff
    if item.next_attempt_at > pushed_at:
        assert failing.store.outbox.get(item.id).attempts == 1
    await failing.push(ignore_backoff=True)  # the user asked: sent now, same key
    again = failing.store.outbox.get(item.id)
    assert again.attempts == 2 and again.state is OutboxState.QUEUED
    assert (again.idempotency_key, again.body) == (item.idempotency_key, item.body)


# -- 412 ----------------------------------------------------------------------------------


async def test_a_stale_close_is_parked_as_a_conflict_and_nothing_is_applied(
    server: Server, services: Any, reviewer: httpx.Client, colleague: httpx.Client
) -> None:
    service = await synced(services, server)
    (row,) = open_rows(service, 1)
    comment_on(colleague, row.id, "changed after the reviewer looked")  # revision moves on

    queued = await service.act(
        row.reference, CloseAction(type=ActionType.CLOSE, decision=Decision.APPROVE)
    )

    item = queued.item
    assert not queued.sent
    assert item.state is OutboxState.PARKED and item.park_reason is ParkReason.CONFLICT
    assert item.if_match == row.revision
    assert item.last_error is not None and item.last_error.status == 412
    assert entries_for(reviewer, row.id, item.client_action_id) == []
    on_server = server_case(reviewer, row.reference)
    assert on_server["status"] == row.status.value and on_server["decision"] is None
    # Retrying does not overwrite: the decision was made on the old revision.
    service.retry(item.id)
    await service.sync()
    assert service.store.outbox.get(item.id).park_reason is ParkReason.CONFLICT
    assert server_case(reviewer, row.reference)["status"] == row.status.value


# -- 422 ----------------------------------------------------------------------------------


async def test_a_key_reused_with_another_body_is_parked_as_a_defect(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    service = await synced(services, server)
    (row,) = open_rows(service, 1)
    queued = await service.act(row.reference, comment("the outbox's body"), send=False)
    item = queued.item
    other_body = {"type": "comment", "body": "another body under the same key"}
    post_action(reviewer, row.id, other_body, key=str(item.idempotency_key))

    result = await service.push()

    parked = service.store.outbox.get(item.id)
    assert result.parked == 1 and result.sent == 0
    assert parked.state is OutboxState.PARKED and parked.park_reason is ParkReason.DEFECT
    assert parked.last_error is not None and parked.last_error.status == 422
    assert parked.idempotency_key == item.idempotency_key, "never a new key on its own"
    assert entries_for(reviewer, row.id, item.client_action_id) == []
    await service.sync()  # a sync does not resend a defect
    assert service.store.outbox.get(item.id).attempts == 1


# -- 400 ----------------------------------------------------------------------------------


async def test_a_rejected_action_is_parked_with_the_apis_message_and_paths(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    service = await synced(services, server)
    (row,) = open_rows(service, 1)
    unknown = uuid.uuid4()
    action = UpdateEscalationAction(
        type=ActionType.UPDATE_ESCALATION,
        escalations=[EscalationUpdate(escalation_id=unknown, note="follow up")],
    )

    queued = await service.act(row.reference, action)

    item = queued.item
    assert item.state is OutboxState.PARKED and item.park_reason is ParkReason.REJECTED
    error = item.last_error
    assert error is not None and error.status == 400
    # The same request over plain HTTP: the outbox kept the API's words, paths and data.
    answer = reviewer.post(
        f"/v1/cases/{row.id}/actions",
        json={"type": "update_escalation", "escalations": [{"escalation_id": str(unknown)}]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 400
    expected = answer.json()["error"]
    assert error.code == expected["code"] and error.message == expected["message"]
    assert [d.model_dump() for d in error.details] == expected["details"]
    assert "escalations.0.escalation_id" in [d.path for d in error.details]
    assert error.data == expected.get("data")
    assert queued.error == expected["message"]
    assert entries_for(reviewer, row.id, item.client_action_id) == []


# -- 401 ----------------------------------------------------------------------------------


class KeyRevokedAfter(httpx.AsyncBaseTransport):
    """Passes requests through; after `allowed` POSTs the key is swapped for a refused one."""

    def __init__(self, allowed: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.allowed = allowed
        self.posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            if self.posts > self.allowed:
                request.headers["X-API-KEY"] = WRONG_KEY
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_key_refused_mid_replay_parks_stops_and_loses_nothing(
    server: Server, services: Any, reviewer: httpx.Client, tmp_path: Any
) -> None:
    service = await synced(services, server)
    rows = open_rows(service, 5)
    await services.close(service)
    revoked = KeyRevokedAfter(allowed=2)
    replaying = services(
        server.base_url, server.key("reviewer"), data_dir=tmp_path / "data", transport=revoked
    )
    items = [
        (await replaying.act(row.reference, comment(f"item {n}"), send=False)).item
        for n, row in enumerate(rows)
    ]

    result = await replaying.push()

    assert result.sent == 2 and result.parked == 1 and result.stopped_for_credentials
    assert revoked.posts == 3, "nothing sent after the refusal"
    now = [replaying.store.outbox.get(item.id) for item in items]
    assert [item.state for item in now] == [
        OutboxState.DONE,
        OutboxState.DONE,
        OutboxState.PARKED,
        OutboxState.QUEUED,
        OutboxState.QUEUED,
    ]
    assert now[2].park_reason is ParkReason.NEEDS_CREDENTIALS
    assert now[2].last_error is not None and now[2].last_error.status == 401
    assert [item.attempts for item in now[3:]] == [0, 0]
    assert WRONG_KEY not in now[2].model_dump_json()
    for item, row in zip(now, rows, strict=True):
        applied = entries_for(reviewer, row.id, item.client_action_id)
        assert len(applied) == (1 if item.state is OutboxState.DONE else 0)
    await services.close(replaying)

    # A key that works: the sync the user asks for sends the rest, each once.
    fixed = services(server.base_url, server.key("reviewer"), data_dir=tmp_path / "data")
    synced_again = await fixed.sync()
    assert synced_again.push.sent == 3
    for item, row in zip(items, rows, strict=True):
        assert fixed.store.outbox.get(item.id).state is OutboxState.DONE
        assert len(entries_for(reviewer, row.id, item.client_action_id)) == 1


async def test_a_wrong_key_parks_the_first_item_and_sends_nothing(
    server: Server, services: Any, reviewer: httpx.Client, tmp_path: Any
) -> None:
    service = await synced(services, server)
    rows = open_rows(service, 3)
    await services.close(service)
    wrong = services(server.base_url, WRONG_KEY, data_dir=tmp_path / "data")
    items = [(await wrong.act(row.reference, comment("x"), send=False)).item for row in rows]

    result = await wrong.push()

    assert result.stopped_for_credentials and result.sent == 0
    now = [wrong.store.outbox.get(item.id) for item in items]
    assert now[0].park_reason is ParkReason.NEEDS_CREDENTIALS
    assert [(i.state, i.attempts) for i in now[1:]] == [(OutboxState.QUEUED, 0)] * 2
    for item, row in zip(items, rows, strict=True):
        assert entries_for(reviewer, row.id, item.client_action_id) == []


# -- 429 ----------------------------------------------------------------------------------


async def test_retry_after_is_honoured_without_early_sends_or_duplicates(
    servers: Any, services: Any
) -> None:
    limited = servers("--rate-limit", "2")
    # The client itself waits out a Retry-After of up to 0.5 s only: longer ones reach the outbox.
    service = services(
        limited.base_url,
        limited.key("reviewer"),
        retry=RetryPolicy(attempts=2, wait_initial=0.05, wait_max=0.2, retry_after_max=0.5),
    )
    with limited.client(limited.key("both")) as other:  # its own rate-limit bucket
        found = server_cases(other, status="open,in_progress").values()
        cases = [Case.model_validate(case) for case in found]
        service.store.cache.upsert_cases(cases)  # a cache as a sync would leave it
        targets = cases[:4]
        items = [
            (await service.act(targets[n % 4].reference, comment(f"burst {n}"), send=False)).item
            for n in range(10)
        ]
        seen_retry_after = 0
        started = time.monotonic()
        while time.monotonic() - started < 25:
            before = {item.id: service.store.outbox.get(item.id) for item in items}
            await service.push(ignore_backoff=True)
            for item_id, earlier in before.items():
                now = service.store.outbox.get(item_id)
                if now.attempts > earlier.attempts and earlier.retry_after is not None:
                    assert now.sent_at is not None and now.sent_at >= earlier.retry_after, (
                        "sent before its Retry-After"
                    )
                if now.retry_after is not None and now.retry_after != earlier.retry_after:
                    seen_retry_after += 1
            if all(service.store.outbox.get(i.id).state is OutboxState.DONE for i in items):
                break
            await asyncio.sleep(0.1)

        assert all(service.store.outbox.get(i.id).state is OutboxState.DONE for i in items)
        assert seen_retry_after > 0, "the rate limit never reached the outbox: nothing was tested"
        for case in targets:
            log = all_pages(other, f"/v1/cases/{case.id}/actions")
            ids = [entry["client_action_id"] for entry in log]
            ours = [str(item.client_action_id) for item in items if item.case_id == case.id]
            assert [cid for cid in ids if cid in ours] == ours, "once each, in order"


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR", logger="casedesk.api")


# -- whose action ------------------------------------------------------------------------


async def test_actions_queued_by_one_user_are_never_sent_under_another_users_key(
    server: Server, services: Any, reviewer: httpx.Client, tmp_path: Any
) -> None:
    first = services(server.base_url, server.key("contributor"))
    await first.sync(full=True)
    (row,) = open_rows(first, 1)
    queued = await first.act(row.reference, comment("written by the contributor"), send=False)
    await services.close(first)

    # The profile's key now belongs to someone else (same organization, both roles).
    second = services(server.base_url, server.key("both"), data_dir=tmp_path / "data")
    await second.sync()

    applied = entries_for(reviewer, row.id, queued.item.client_action_id)
    assert [entry["actor_id"] for entry in applied] == [], "sent as the second user"


async def test_a_role_refusal_is_parked_as_rejected_and_never_resent(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    # The console would not offer it; a hand-built action (or a role changed since) reaches
    # the API, which answers 403 although the key works: that is a refusal, not credentials.
    contributor = services(server.base_url, server.key("contributor"))
    assert (await contributor.sync(full=True)).error is None
    (row,) = open_rows(contributor, 1)
    queued = await contributor.act(
        row.reference, CloseAction(type=ActionType.CLOSE, decision=Decision.APPROVE)
    )
    item = contributor.store.outbox.get(queued.item.id)
    assert item.park_reason is ParkReason.REJECTED
    assert item.last_error is not None and item.last_error.status == 403
    attempts = item.attempts
    await contributor.sync()
    assert contributor.store.outbox.get(item.id).attempts == attempts
    assert entries_for(reviewer, row.id, item.client_action_id) == []
