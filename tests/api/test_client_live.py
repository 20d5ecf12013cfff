"""The client against the real case API: `casedesk serve --demo` on a 127.0.0.1 port.

Uses the session fixture `live_server` (tests/conftest.py). Tests that change
cases create their own, so the shared demo data stays as seeded.
"""

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from casedesk.api.client import CaseApiClient, new_idempotency_key
from casedesk.api.errors import (
    Forbidden,
    IdempotencyMismatch,
    InvalidRequest,
    NotFound,
    StaleRevision,
    Unauthorized,
)
from casedesk.api.pages import collect
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.actions import CloseAction, CommentAction
from casedesk.domain.case import Case
from casedesk.domain.create import NewCase
from casedesk.domain.enums import ActionType, CaseSort, CaseStatus, Decision, Include, Role

from .leaks import SENTINEL, assert_no_leak

pytestmark = pytest.mark.usefixtures("live_server")

QUICK = RetryPolicy(attempts=3, wait_initial=0.05, wait_max=0.2)


def connect(live_server: Any, key: str, **options: Any) -> CaseApiClient:
    return CaseApiClient(live_server.base_url, ApiKey(key), retry=QUICK, **options)


@pytest.fixture
async def api(live_server: Any) -> AsyncIterator[CaseApiClient]:
    """A client for a demo user of organization 0 with both roles."""
    async with connect(live_server, live_server.key("both")) as client:
        yield client


async def fresh_case(api: CaseApiClient, name: str = "Live test") -> Case:
    return await api.create_case(
        NewCase(name=f"{name} {uuid.uuid4().hex[:8]}"), new_idempotency_key()
    )


def comment(body: str) -> CommentAction:
    return CommentAction(type=ActionType.COMMENT, body=body)


async def test_me_users_and_queues_are_read_and_validated(
    api: CaseApiClient, live_server: Any
) -> None:
    me = await api.me()
    expected = live_server.user("both")
    assert (me.email, set(me.roles)) == (expected["email"], {Role.CONTRIBUTOR, Role.REVIEWER})
    users = await api.users()
    assert users and all(user.organization_id == me.organization_id for user in users)
    assert await api.queues()


async def test_pages_of_cases_follow_cursors_to_every_case(api: CaseApiClient) -> None:
    pages = [page async for page in api.iter_cases(limit=25, sort=CaseSort.REFERENCE)]

    assert len(pages) >= 3
    assert all(len(page) <= 25 for page in pages)
    assert [page.has_more for page in pages] == [True] * (len(pages) - 1) + [False]
    ids = [case.id for page in pages for case in page.items]
    assert len(ids) == len(set(ids)) >= 60
    references = [case.reference for page in pages for case in page.items]
    assert references == sorted(references)


async def test_filters_reach_the_api(api: CaseApiClient) -> None:
    first = (
        await api.list_cases(limit=200, status=[CaseStatus.OPEN, CaseStatus.IN_PROGRESS])
    ).items
    assert first and {case.status for case in first} <= {CaseStatus.OPEN, CaseStatus.IN_PROGRESS}

    since = max(case.updated_at for case in first)
    recent = await collect(api.iter_cases(updated_since=since, limit=200))
    assert recent and all(case.updated_at >= since for case in recent)


async def test_a_case_is_found_by_reference_and_by_id(api: CaseApiClient) -> None:
    listed = (await api.list_cases(limit=1)).items[0]

    by_reference = await api.get_case(listed.reference)
    by_id = await api.get_case(listed.id)

    assert by_reference.id == by_id.id == listed.id


async def test_a_cases_chat_escalations_overrides_and_log_are_read_in_full(
    api: CaseApiClient,
) -> None:
    cases = await collect(api.iter_cases(limit=200))
    chatty = max(cases, key=lambda case: case.summary.messages_count)
    assert chatty.summary.messages_count > 0

    chat = await api.all_messages(chatty.id)
    assert len(chat) == chatty.summary.messages_count
    assert all(message.case_id == chatty.id for message in chat)
    first_page = await api.messages(chatty.id, limit=1)
    assert len(first_page) == 1 and first_page.has_more == (len(chat) > 1)
    escalations = await api.all_escalations(chatty.id)
    assert sum(not e.is_completed for e in escalations) == chatty.summary.open_escalations_count
    await api.all_overrides(chatty.id)
    log = await api.all_actions(chatty.id)
    assert log and all(entry.case_id == chatty.id for entry in log)


async def test_a_comment_replayed_with_its_idempotency_key_is_applied_once(
    api: CaseApiClient,
) -> None:
    case = await fresh_case(api)
    key = new_idempotency_key()

    first = await api.act(case.id, comment("checked the register"), idempotency_key=key)
    again = await api.act(case.id, comment("checked the register"), idempotency_key=key)

    assert again.action.id == first.action.id
    assert first.case.revision == case.revision + 1
    assert (await api.get_case(case.id)).revision == case.revision + 1
    bodies = [message.body for message in await api.all_messages(case.id)]
    assert bodies.count("checked the register") == 1


async def test_the_same_key_with_another_body_is_refused(api: CaseApiClient) -> None:
    case = await fresh_case(api)
    key = new_idempotency_key()
    await api.act(case.id, comment("one"), idempotency_key=key)
    with pytest.raises(IdempotencyMismatch):
        await api.act(case.id, comment("two"), idempotency_key=key)


async def test_a_stale_revision_is_refused(api: CaseApiClient) -> None:
    case = await fresh_case(api)
    await api.act(case.id, comment("moves the revision"), idempotency_key=new_idempotency_key())
    with pytest.raises(StaleRevision):
        await api.act(
            case.id,
            comment("based on what I saw before"),
            idempotency_key=new_idempotency_key(),
            if_match=case.revision,
        )


async def test_includes_come_back_with_the_action(api: CaseApiClient) -> None:
    case = await fresh_case(api)
    result = await api.act(
        case.id,
        comment("with includes"),
        idempotency_key=new_idempotency_key(),
        if_match=case.revision,
        include=[Include.COMMENT, Include.USER],
    )
    assert result.comment is not None and result.comment.body == "with includes"
    assert result.user is not None and result.user.id == result.action.actor_id


async def test_a_document_uploads_attaches_and_downloads(api: CaseApiClient) -> None:
    case = await fresh_case(api)
    key = new_idempotency_key()
    document = await api.upload_document(b"%PDF-1.4 test", name="kyc.pdf", idempotency_key=key)
    replay = await api.upload_document(b"%PDF-1.4 test", name="kyc.pdf", idempotency_key=key)
    assert replay.id == document.id
    assert (document.name, document.size, document.content_type) == (
        "kyc.pdf",
        13,
        "application/pdf",
    )

    action = CommentAction(type=ActionType.COMMENT, body="see file", document_ids=[document.id])
    result = await api.act(
        case.id, action, idempotency_key=new_idempotency_key(), include=[Include.COMMENT]
    )
    assert result.comment is not None
    assert [d.id for d in result.comment.documents] == [document.id]
    assert await api.document_content(document.id) == b"%PDF-1.4 test"


async def test_another_organizations_case_is_not_found(
    api: CaseApiClient, live_server: Any
) -> None:
    mine = (await api.list_cases(limit=1)).items[0]
    async with connect(live_server, live_server.key("both", org=1)) as outsider:
        with pytest.raises(NotFound):
            await outsider.get_case(mine.id)
        with pytest.raises(NotFound):
            await outsider.all_messages(mine.id)


async def test_a_contributor_may_not_close(live_server: Any, api: CaseApiClient) -> None:
    case = await fresh_case(api)
    async with connect(live_server, live_server.key("contributor")) as contributor:
        with pytest.raises(Forbidden):
            await contributor.act(
                case.id,
                CloseAction(type=ActionType.CLOSE, decision=Decision.APPROVE),
                idempotency_key=new_idempotency_key(),
            )


async def test_a_bad_request_names_the_field(api: CaseApiClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await api.list_cases(limit=500)
    assert [detail.path for detail in caught.value.details] == ["limit"]


async def test_error_messages_follow_the_language(live_server: Any) -> None:
    messages = {}
    for language in ("en", "fr"):
        async with connect(live_server, live_server.key("both"), language=language) as client:
            with pytest.raises(NotFound) as caught:
                await client.get_case(uuid.uuid4())
            messages[language] = caught.value.message
    assert messages["en"] != messages["fr"]


async def test_a_wrong_key_is_unauthorized_and_never_shown(
    live_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with connect(live_server, SENTINEL) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.me()
    assert caught.value.request_id
    assert_no_leak(caught.value, caplog)
