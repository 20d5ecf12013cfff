"""Pulling into the cache: a full sync mirrors the server, an incremental one brings the changes.

Every expectation is read from the server over plain HTTP, after the sync.
"""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from synckit import (
    Server,
    all_pages,
    comment_on,
    file_bytes,
    get_json,
    server_case,
    server_cases,
    wire,
)

from casedesk.api.errors import ApiConnectionError, InvalidResponse, ServerError
from casedesk.domain.case import Case
from casedesk.domain.enums import CaseStatus
from casedesk.store.cached import QueueRow
from casedesk.sync.events import SyncProgress
from casedesk.sync.pull import OVERLAP

Json = dict[str, Any]


def assert_cache_mirrors(service: Any, expected: dict[str, Json]) -> None:
    """The cache holds exactly `expected` (wire cases by id), field for field, rows included."""
    cache = service.store.cache
    assert {str(row.id) for row in cache.rows()} == set(expected)
    for case_id, on_server in expected.items():
        cached = cache.case(Case.model_validate(on_server).id)
        assert cached is not None, case_id
        assert wire(cached) == wire(on_server), on_server["reference"]
        server_model = Case.model_validate(on_server)
        assert cached.model_dump(exclude={"sla_status"}) == server_model.model_dump(
            exclude={"sla_status"}
        )
        row = cache.row(server_model.id)
        assert row._replace(sla_status=None) == QueueRow.from_case(server_model)._replace(
            sla_status=None
        )


def newest(cases: dict[str, Json]) -> Any:
    return max(Case.model_validate(case).updated_at for case in cases.values())


def mine_open(service: Any, cases: dict[str, Json]) -> list[Case]:
    me = service.me()
    found = [Case.model_validate(case) for case in cases.values()]
    return [
        case
        for case in found
        if case.assignee is not None
        and case.assignee.id == me.id
        and case.status is not CaseStatus.CLOSED
    ]


# -- full and incremental ------------------------------------------------------------


async def test_full_sync_equals_the_servers_state(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    service = services(server.base_url, server.key("reviewer"))

    result = await service.sync(full=True)

    assert result.online and result.error is None and result.pull is not None
    expected = server_cases(reviewer)
    assert result.pull.full and result.pull.cases == len(expected) == server.cases
    assert_cache_mirrors(service, expected)
    state = service.store.cache.sync_state()
    assert state.last_sync_at is not None
    assert state.updated_since == newest(expected) - OVERLAP
    me = get_me(reviewer)
    assert service.me().model_dump(mode="json") == me
    users = {user["id"] for user in _all(reviewer, "/v1/users")}
    assert {str(user.id) for user in service.users()} == users
    queues = {queue["id"] for queue in _all(reviewer, "/v1/queues")}
    assert {str(queue.id) for queue in service.queues()} == queues
    statuses = {row.status for row in service.queue()}
    assert len(statuses) > 1, "the queue with no query lists every status"


async def test_incremental_sync_brings_exactly_the_changes(
    server: Server, services: Any, reviewer: httpx.Client, colleague: httpx.Client
) -> None:
    service = services(server.base_url, server.key("reviewer"))
    await service.sync(full=True)
    before = server_cases(reviewer)
    watermark = service.store.cache.sync_state().updated_since
    first_sync_at = service.store.cache.sync_state().last_sync_at
    overlap = {
        cid for cid, case in before.items() if Case.model_validate(case).updated_at >= watermark
    }
    mine = mine_open(service, before)
    assert mine, "the demo assigns open cases to this reviewer"
    detailed = mine[0]
    assert service.case(detailed.reference).fetched, "my open cases are prefetched"
    me = str(service.me().id)
    others = [  # not mine: their details were never fetched, so the pull fetches none for them
        c
        for c in before.values()
        if c["status"] != "closed" and (c["assignee"] or {}).get("id") != me
    ]
    changed_ids = {str(detailed.id), others[0]["id"], others[1]["id"]}
    for case_id in sorted(changed_ids):
        comment_on(colleague, case_id, "a change made elsewhere")

    pulled = await service.pull()

    after = server_cases(reviewer)
    moved = {cid for cid in after if after[cid]["revision"] != before[cid]["revision"]}
    assert moved == changed_ids
    assert not pulled.full
    assert pulled.cases == len(changed_ids | overlap), "only the changes (and the overlap window)"
    assert_cache_mirrors(service, after)
    state = service.store.cache.sync_state()
    assert state.updated_since == newest(after) - OVERLAP
    assert state.updated_since > watermark and state.last_sync_at > first_sync_at
    # The changed case whose details were cached has fresh details, new comment included.
    details = service.case(detailed.reference)
    assert not details.stale and details.fetched_revision == after[str(detailed.id)]["revision"]
    assert details.messages[-1].body == "a change made elsewhere"
    assert pulled.details == 1

    again = await service.pull()
    assert again.cases == len(
        {
            cid
            for cid, case in after.items()
            if Case.model_validate(case).updated_at >= state.updated_since
        }
    )
    assert_cache_mirrors(service, server_cases(reviewer))


async def test_cases_changed_while_the_walk_is_under_way_are_not_missed(
    servers: Any, services: Any
) -> None:
    big = servers(cases=250)  # two pages of 200
    with big.client(big.key("reviewer")) as reviewer, big.client(big.key("both")) as colleague:
        service = services(big.base_url, big.key("reviewer"))
        walked: list[str] = []
        before = server_cases(reviewer)
        order = sorted(before.values(), key=lambda case: (case["updated_at"], case["id"]))
        # One case of the first page, and the first ones of the second page.
        moving = [order[0], order[199], order[200], order[201]]
        moving = [case for case in moving if case["status"] != "closed"][:3]
        assert len(moving) >= 2

        def change_during_walk(event: SyncProgress) -> None:
            if event.phase == "cases" and event.pages == 1 and not walked:
                for case in moving:
                    walked.append(case["id"])
                    comment_on(colleague, case["id"], "changed during the walk")

        pulled = await service.pull(full=True, progress=change_during_walk)

        assert walked and pulled.pages == 2
        assert_cache_mirrors(service, server_cases(reviewer))


# -- details -------------------------------------------------------------------------


async def test_my_open_cases_are_prefetched(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    service = services(server.base_url, server.key("reviewer"))
    result = await service.sync(full=True)
    cases = server_cases(reviewer)
    mine = {case.id for case in mine_open(service, cases)}

    assert result.pull is not None and result.pull.details == len(mine) > 0
    for case_id, on_server in cases.items():
        details = service.store.cache.details(Case.model_validate(on_server).id)
        if details.case.id in mine:
            assert details.fetched and not details.stale, on_server["reference"]
            assert len(details.messages) == on_server["summary"]["messages_count"]
            server_log = _all(reviewer, f"/v1/cases/{case_id}/actions")
            assert [str(entry.id) for entry in details.actions] == [e["id"] for e in server_log]
        else:
            assert not details.fetched and details.messages is None, on_server["reference"]


async def test_opened_case_details_are_cached_and_readable_offline(
    server: Server, services: Any, reviewer: httpx.Client, tmp_path: Any
) -> None:
    service = services(server.base_url, server.key("reviewer"))
    await service.sync(full=True)
    me = service.me()
    row = next(r for r in service.queue() if r.assignee_id != me.id and r.messages_count > 0)
    assert service.case(row.reference).messages is None, "not fetched by the sync"

    opened = await service.open_case(row.reference)

    assert opened is not None and opened.fetched and not opened.stale
    expected = {
        kind: [item["id"] for item in _all(reviewer, f"/v1/cases/{row.id}/{kind}")]
        for kind in ("messages", "escalations", "overrides", "actions")
    }
    assert {kind: [str(i.id) for i in getattr(opened, kind)] for kind in expected} == expected
    assert wire(opened.case) == wire(server_case(reviewer, row.reference))
    await services.close(service)

    # Another run, the API out of reach: the same details come from the cache.
    dead = services("http://127.0.0.1:9", server.key("reviewer"), data_dir=tmp_path / "data")
    offline = await dead.open_case(row.reference)
    assert dead.online is False
    assert offline is not None
    assert offline.model_dump() == opened.model_dump()
    assert dead.case(row.reference).model_dump() == opened.model_dump()


# -- isolation -----------------------------------------------------------------------


async def test_a_key_of_another_organization_never_sees_org0s_cases(
    server: Server, services: Any, reviewer: httpx.Client
) -> None:
    org0 = set(server_cases(reviewer))
    with server.client(server.key("reviewer", org=1)) as other:
        org1 = server_cases(other)
    assert org0.isdisjoint(org1)
    service = services(server.base_url, server.key("reviewer", org=1))
    await service.sync(full=True)
    assert {str(row.id) for row in service.store.cache.rows()} == set(org1)
    for case_id in org0:
        assert service.find(case_id) is None


async def test_another_key_on_the_same_data_dir_forgets_what_the_first_one_saw(
    server: Server, services: Any, reviewer: httpx.Client, tmp_path: Any
) -> None:
    first = services(server.base_url, server.key("reviewer"))
    await first.sync(full=True)
    opened = next(iter(server_cases(reviewer)))
    await first.open_case(opened)
    first_org = first.me().organization_id
    await services.close(first)

    second = services(server.base_url, server.key("reviewer", org=1), data_dir=tmp_path / "data")
    await second.sync()

    with server.client(server.key("reviewer", org=1)) as other:
        org1 = server_cases(other)
    assert {str(row.id) for row in second.store.cache.rows()} == set(org1)
    assert second.case(opened) is None
    assert second.me().organization_id != first_org
    on_disk = file_bytes(tmp_path / "data" / "cache")
    assert not [name for name, data in on_disk.items() if opened.encode() in data]


# -- failed pulls --------------------------------------------------------------------


async def test_a_pull_against_a_failing_server_leaves_the_cache_as_it_was(
    server: Server, error_server: Server, services: Any, tmp_path: Any
) -> None:
    service = services(server.base_url, server.key("reviewer"))
    await service.sync(full=True)
    files = file_bytes(tmp_path / "data" / "cache")
    state = service.store.cache.sync_state()
    await services.close(service)

    failing = services(error_server.base_url, server.key("reviewer"), data_dir=tmp_path / "data")
    with pytest.raises(ServerError):
        await failing.pull()
    result = await failing.sync()

    assert result.pull is None and result.error
    assert failing.store.cache.sync_state() == state
    assert len(failing.store.cache.rows()) == server.cases
    assert file_bytes(tmp_path / "data" / "cache") == files


async def test_a_pull_cut_midway_writes_nothing_and_the_next_one_brings_everything(
    servers: Any, services: Any, tmp_path: Any
) -> None:
    own = servers()  # stopped midway below
    with own.client(own.key("reviewer")) as reviewer, own.client(own.key("both")) as colleague:
        service = services(own.base_url, own.key("reviewer"))
        await service.sync(full=True)
        files = file_bytes(tmp_path / "data" / "cache")
        rows = sorted(service.store.cache.rows())
        state = service.store.cache.sync_state()
        for case in mine_open(service, server_cases(reviewer))[:2]:
            comment_on(colleague, case.id)  # cached details: the pull will fetch them again

        def cut(event: SyncProgress) -> None:
            if event.phase == "cases":  # the changed cases arrived; their details did not
                own.stop()

        with pytest.raises(ApiConnectionError):
            await service.pull(progress=cut)

        assert sorted(service.store.cache.rows()) == rows
        assert service.store.cache.sync_state() == state
        assert file_bytes(tmp_path / "data" / "cache") == files

        own.start()
        pulled = await service.pull()
        assert pulled.details == 2
        assert_cache_mirrors(service, server_cases(reviewer))


class CorruptCaseList(httpx.AsyncBaseTransport):
    """A transport that passes through, except that case list pages come back schema-invalid."""

    def __init__(self, corrupt: Callable[[Json], None]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._corrupt = corrupt
        self.corrupted = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or request.url.path != "/v1/cases":
            return response
        body = json.loads(await response.aread())
        if body.get("data"):
            self._corrupt(body["data"][-1])
            self.corrupted += 1
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=json.dumps(body))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _bad_revision(case: Json) -> None:
    case["revision"] = "seven"


def _no_reference(case: Json) -> None:
    del case["reference"]


@pytest.mark.parametrize("corrupt", [_bad_revision, _no_reference])
async def test_a_schema_invalid_page_writes_nothing(
    server: Server,
    services: Any,
    reviewer: httpx.Client,
    colleague: httpx.Client,
    tmp_path: Any,
    corrupt: Callable[[Json], None],
) -> None:
    service = services(server.base_url, server.key("reviewer"))
    await service.sync(full=True)
    files = file_bytes(tmp_path / "data" / "cache")
    state = service.store.cache.sync_state()
    await services.close(service)
    cases = [c for c in server_cases(reviewer).values() if c["status"] != "closed"]
    for case in cases[:3]:
        comment_on(colleague, case["id"])

    transport = CorruptCaseList(corrupt)
    tampered = services(
        server.base_url, server.key("reviewer"), data_dir=tmp_path / "data", transport=transport
    )
    with pytest.raises(InvalidResponse):
        await tampered.pull()

    assert transport.corrupted == 1
    assert tampered.store.cache.sync_state() == state
    assert file_bytes(tmp_path / "data" / "cache") == files
    result = await tampered.sync()
    assert result.pull is None and result.error
    assert file_bytes(tmp_path / "data" / "cache") == files


# -- helpers -------------------------------------------------------------------------


def _all(client: httpx.Client, url: str) -> list[Json]:
    return all_pages(client, url)


def get_me(client: httpx.Client) -> Json:
    me: Json = get_json(client, "/v1/me")["data"]
    return me
