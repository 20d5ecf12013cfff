"""Cursor pagination, incremental sync and filters of `GET /v1/cases` and the child lists."""

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from casedesk.domain import limits
from casedesk.domain.enums import CaseSort, CaseStatus, RiskTier, SlaStatus

Json = dict[str, Any]
PAGE = 7


# -- helpers -------------------------------------------------------------------------


def body_of(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: Json = response.json()
    return body


def error_paths(response: httpx.Response) -> list[str]:
    body = body_of(response, 400)
    assert set(body) == {"error", "meta"}
    return [detail["path"] for detail in body["error"]["details"]]


def walk(
    client: httpx.Client,
    url: str = "/v1/cases",
    between_pages: Callable[[list[Json]], None] | None = None,
    **params: Any,
) -> list[Json]:
    """Every item of a list, page by page, following the cursors."""
    found: list[Json] = []
    query = {"limit": PAGE, **params}
    while True:
        page = body_of(client.get(url, params=query), 200)
        assert set(page["meta"]) == {"request_id", "page"}
        assert len(page["data"]) <= query["limit"]
        found.extend(page["data"])
        if between_pages is not None:
            between_pages(page["data"])
        if not page["meta"]["page"]["has_more"]:
            assert page["meta"]["page"]["cursor"] is None
            return found
        query["cursor"] = page["meta"]["page"]["cursor"]
        assert query["cursor"]


def every_case(client: httpx.Client, **params: Any) -> list[Json]:
    return walk(client, limit=limits.PAGE_LIMIT_MAX, **params)


def ids(items: list[Json]) -> list[str]:
    return [item["id"] for item in items]


def new_case(client: httpx.Client, **fields: Any) -> Json:
    payload = {"name": f"Paging case {uuid.uuid4().hex[:8]}", **fields}
    case: Json = body_of(client.post("/v1/cases", json=payload), 201)["data"]
    return case


def act(client: httpx.Client, case_id: str, action: Json) -> Json:
    data: Json = body_of(client.post(f"/v1/cases/{case_id}/actions", json=action), 201)["data"]
    return data


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewer(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("reviewer")) as client:
        yield client


@pytest.fixture(scope="module")
def variety(reviewer: httpx.Client) -> Json:
    """A case assigned to the reviewer, tagged, with an external id: every filter finds one."""
    me = body_of(reviewer.get("/v1/me"), 200)["data"]
    return new_case(reviewer, assignee_id=me["id"], tags=["pep"], external_id=f"EXT-{uuid.uuid4()}")


@pytest.fixture
def all_cases(reviewer: httpx.Client, variety: Json) -> list[Json]:
    """Org 0's cases as they are now, for comparing a filtered listing with."""
    cases = every_case(reviewer)
    assert variety["id"] in ids(cases)
    return cases


# -- pages ---------------------------------------------------------------------------


def test_listing_page_by_page_gives_every_case_once_in_a_stable_order(
    reviewer: httpx.Client, all_cases: list[Json]
) -> None:
    paged = walk(reviewer)
    assert ids(paged) == ids(all_cases)
    assert len(set(ids(paged))) == len(paged)
    references = [case["reference"] for case in paged]
    assert references == sorted(references)


def test_default_page_size_is_the_documented_default(
    reviewer: httpx.Client, all_cases: list[Json]
) -> None:
    page = body_of(reviewer.get("/v1/cases"), 200)
    assert len(page["data"]) == min(limits.PAGE_LIMIT_DEFAULT, len(all_cases))
    assert page["meta"]["page"]["has_more"] is (len(all_cases) > limits.PAGE_LIMIT_DEFAULT)


def test_the_largest_page_size_is_accepted(reviewer: httpx.Client) -> None:
    body_of(reviewer.get("/v1/cases", params={"limit": limits.PAGE_LIMIT_MAX}), 200)


@pytest.mark.parametrize(
    "limit", [limits.PAGE_LIMIT_MIN - 1, limits.PAGE_LIMIT_MAX + 1, -1, "x", "1.5", ""]
)
@pytest.mark.parametrize("url", ["/v1/cases", "/v1/cases/CAS-000001/messages"])
def test_a_limit_out_of_range_is_400_never_clamped(
    reviewer: httpx.Client, url: str, limit: Any
) -> None:
    assert error_paths(reviewer.get(url, params={"limit": limit})) == ["limit"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        cursor_of([1, 2]),
        cursor_of({"o": "reference"}),
        cursor_of({"o": "reference", "v": None, "s": "many"}),
        cursor_of({"o": "risk_score", "v": 3, "s": 1}),
    ],
    ids=["garbage", "percent", "json-list", "missing-fields", "text-position", "other-sort"],
)
def test_a_malformed_cursor_is_400_naming_cursor(reviewer: httpx.Client, cursor: str) -> None:
    assert error_paths(reviewer.get("/v1/cases", params={"cursor": cursor})) == ["cursor"]


def test_a_cursor_of_one_sort_is_refused_for_another(reviewer: httpx.Client) -> None:
    first = body_of(reviewer.get("/v1/cases", params={"limit": 2, "sort": "-risk_score"}), 200)
    cursor = first["meta"]["page"]["cursor"]
    response = reviewer.get("/v1/cases", params={"cursor": cursor, "sort": "updated_at"})
    assert error_paths(response) == ["cursor"]


@pytest.mark.parametrize(
    ("url", "cursor", "sort"),
    [
        ("/v1/cases", cursor_of({"o": "risk_score", "v": [1], "s": 1}), "risk_score"),
        ("/v1/cases", cursor_of({"o": "reference", "v": None, "s": 2**64}), "reference"),
        ("/v1/cases/CAS-000001/messages", cursor_of({"o": "seq", "v": None, "s": 2**64}), None),
    ],
    ids=["list-position", "huge-seq", "child-list-huge-seq"],
)
def test_a_tampered_cursor_is_400_naming_cursor(
    reviewer: httpx.Client, url: str, cursor: str, sort: str | None
) -> None:
    params = {"cursor": cursor} if sort is None else {"cursor": cursor, "sort": sort}
    with httpx.Client(base_url=str(reviewer.base_url), headers=reviewer.headers) as fresh:
        assert error_paths(fresh.get(url, params=params)) == ["cursor"]


# -- updated_since -------------------------------------------------------------------


def test_updated_since_is_inclusive(reviewer: httpx.Client) -> None:
    case = new_case(reviewer)
    stamp = case["updated_at"]
    east = timezone(timedelta(hours=5, minutes=30))
    for since in (stamp, stamp.replace("Z", "+00:00"), instant(stamp).astimezone(east).isoformat()):
        found = every_case(reviewer, updated_since=since)
        assert case["id"] in ids(found), since
        assert all(instant(c["updated_at"]) >= instant(stamp) for c in found)
    later = (instant(stamp) + timedelta(microseconds=1)).isoformat()
    assert case["id"] not in ids(every_case(reviewer, updated_since=later))


@pytest.mark.parametrize(
    "since", ["yesterday", "2026-13-01T00:00:00Z", "2025-06-15T09:00:00", "2025-06-15", ""]
)
def test_a_malformed_updated_since_is_400_naming_it(reviewer: httpx.Client, since: str) -> None:
    response = reviewer.get("/v1/cases", params={"updated_since": since})
    assert error_paths(response) == ["updated_since"]


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_updated_since_at_the_edge_of_the_calendar_is_not_a_server_error(
    reviewer: httpx.Client, since: str
) -> None:
    with httpx.Client(base_url=str(reviewer.base_url), headers=reviewer.headers) as fresh:
        response = fresh.get("/v1/cases", params={"updated_since": since})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert error_paths(response) == ["updated_since"]


def test_no_case_is_missed_or_repeated_while_cases_change_between_pages(
    live_server: Any, reviewer: httpx.Client
) -> None:
    mine = [new_case(reviewer, name=f"Moving target {n}") for n in range(3 * PAGE)]
    my_ids = [case["id"] for case in mine]
    marker = act(reviewer, mine[0]["id"], {"type": "comment", "body": "sync starts"})
    sync_start = marker["action"]["created_at"]
    changed: set[str] = {mine[0]["id"]}
    seen: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_changing() -> None:
        with live_server.client(live_server.key("both")) as other:
            turn = 0
            while not stop.is_set():
                target = my_ids[turn % len(my_ids)]
                try:
                    act(other, target, {"type": "comment", "body": f"change {turn}"})
                except BaseException as failure:  # reported by the test, not lost in the thread
                    failures.append(failure)
                    return
                changed.add(target)
                turn += 1

    def between_pages(page: list[Json]) -> None:
        seen.extend(ids(page))
        seen_mine = [i for i in my_ids if i in seen]
        unseen_mine = [i for i in my_ids if i not in seen]
        if seen_mine:
            act(reviewer, seen_mine[-1], {"type": "escalate", "reason": "seen already"})
            changed.add(seen_mine[-1])
        if unseen_mine:
            act(reviewer, unseen_mine[0], {"type": "escalate", "reason": "not seen yet"})
            changed.add(unseen_mine[0])

    worker = threading.Thread(target=keep_changing)
    worker.start()
    try:
        paged = walk(reviewer, between_pages=between_pages)
    finally:
        stop.set()
        worker.join()
    assert failures == []
    assert len(ids(paged)) == len(set(ids(paged))), "a case was listed twice"
    assert set(ids(paged)) == set(ids(every_case(reviewer))), "a case was missed"
    synced = every_case(reviewer, updated_since=sync_start)
    assert changed <= set(ids(synced)), "the follow-up sync missed a change"
    assert all(instant(case["updated_at"]) >= instant(sync_start) for case in synced)


# -- filters -------------------------------------------------------------------------


def _expect_filter(
    client: httpx.Client,
    all_cases: list[Json],
    params: Json,
    keep: Callable[[Json], bool],
) -> list[Json]:
    got = walk(client, **params)
    assert all(keep(case) for case in got), params
    assert ids(got) == [case["id"] for case in all_cases if keep(case)], params
    return got


@pytest.mark.parametrize("status", [s.value for s in CaseStatus] + ["open,in_progress"])
def test_status_filter_returns_exactly_the_cases_in_those_statuses(
    reviewer: httpx.Client, all_cases: list[Json], status: str
) -> None:
    wanted = set(status.split(","))
    _expect_filter(reviewer, all_cases, {"status": status}, lambda c: c["status"] in wanted)


@pytest.mark.parametrize("tier", [t.value for t in RiskTier] + ["low,high"])
def test_risk_tier_filter_returns_exactly_those_tiers(
    reviewer: httpx.Client, all_cases: list[Json], tier: str
) -> None:
    wanted = set(tier.split(","))
    got = _expect_filter(
        reviewer, all_cases, {"risk_tier": tier}, lambda c: c["risk_tier"] in wanted
    )
    assert got


def test_queue_filter_by_id_or_name(reviewer: httpx.Client, all_cases: list[Json]) -> None:
    queues = body_of(reviewer.get("/v1/queues"), 200)["data"]
    for queue in queues:

        def in_queue(case: Json, queue: Json = queue) -> bool:
            return bool(case["queue"]["id"] == queue["id"])

        by_id = _expect_filter(reviewer, all_cases, {"queue": queue["id"]}, in_queue)
        by_name = _expect_filter(reviewer, all_cases, {"queue": queue["name"].upper()}, in_queue)
        assert by_id == by_name
    assert walk(reviewer, queue="No such queue") == []


def test_assignee_filter_me_none_and_id(reviewer: httpx.Client, all_cases: list[Json]) -> None:
    me = body_of(reviewer.get("/v1/me"), 200)["data"]
    mine = _expect_filter(
        reviewer,
        all_cases,
        {"assignee": "me"},
        lambda c: c["assignee"] is not None and c["assignee"]["id"] == me["id"],
    )
    assert mine
    by_id = walk(reviewer, assignee=me["id"])
    assert by_id == mine
    unassigned = _expect_filter(
        reviewer, all_cases, {"assignee": "none"}, lambda c: c["assignee"] is None
    )
    assert unassigned
    for user in body_of(reviewer.get("/v1/users"), 200)["data"]:
        _expect_filter(
            reviewer,
            all_cases,
            {"assignee": user["id"]},
            lambda c, u=user: c["assignee"] is not None and c["assignee"]["id"] == u["id"],
        )
    assert error_paths(reviewer.get("/v1/cases", params={"assignee": "someone"})) == ["assignee"]


@pytest.mark.parametrize("sla", [s.value for s in SlaStatus] + ["at_risk,breached"])
def test_sla_status_filter_returns_only_cases_in_those_states(
    reviewer: httpx.Client, all_cases: list[Json], sla: str
) -> None:
    wanted = set(sla.split(","))
    got = walk(reviewer, sla_status=sla)
    assert all(case["sla_status"] in wanted for case in got)
    # The filter and the field agree (a deadline passing mid-test is a few-µs window).
    assert ids(got) == [c["id"] for c in all_cases if c["sla_status"] in wanted]
    if sla == "paused":  # paused exactly while querying
        assert ids(got) == [c["id"] for c in all_cases if c["status"] == "querying"]


def test_tag_filter_by_id_or_case_insensitive_label(
    reviewer: httpx.Client, all_cases: list[Json]
) -> None:
    labels = {tag["label"]: tag["id"] for case in all_cases for tag in case["tags"]}
    assert labels
    for label, tag_id in labels.items():

        def tagged(case: Json, tag_id: str = tag_id) -> bool:
            return tag_id in {tag["id"] for tag in case["tags"]}

        by_id = _expect_filter(reviewer, all_cases, {"tag": tag_id}, tagged)
        assert walk(reviewer, tag=label.upper()) == by_id
    assert walk(reviewer, tag=f"never-used-{uuid.uuid4().hex}") == []


def _matches_text(case: Json, text: str) -> bool:
    needle = text.casefold()
    return any(
        needle in (value or "").casefold()
        for value in (case["name"], case["reference"], case["external_id"])
    )


@pytest.mark.parametrize("text", ["cas-00001", "GMBH", "EXT-", "Paging case"])
def test_text_search_matches_name_reference_or_external_id(
    reviewer: httpx.Client, all_cases: list[Json], text: str
) -> None:
    got = _expect_filter(reviewer, all_cases, {"q": text}, lambda c: _matches_text(c, text))
    if text != "GMBH":
        assert got


@pytest.mark.parametrize("text", ["%", "_"])
def test_text_search_takes_wildcard_characters_literally(reviewer: httpx.Client, text: str) -> None:
    got = walk(reviewer, q=text)
    assert all(_matches_text(case, text) for case in got)


def test_filters_combine(reviewer: httpx.Client, all_cases: list[Json]) -> None:
    _expect_filter(
        reviewer,
        all_cases,
        {"status": "open,in_progress", "assignee": "none", "risk_tier": "high"},
        lambda c: (
            c["status"] in {"open", "in_progress"}
            and c["assignee"] is None
            and c["risk_tier"] == "high"
        ),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "pending"),
        ("risk_tier", "extreme"),
        ("sla_status", "late"),
        ("sort", "name"),
        ("q", "x" * (limits.SEARCH_TEXT_MAX + 1)),
    ],
)
def test_an_unknown_filter_value_is_400_naming_the_parameter(
    reviewer: httpx.Client, name: str, value: str
) -> None:
    assert error_paths(reviewer.get("/v1/cases", params={name: value})) == [name]


# -- sorting -------------------------------------------------------------------------


def _sort_key(case: Json, field: str) -> Any:
    if field == "reference":
        return case["reference"]
    value = case[field]
    if field == "sla_deadline" and value is None:
        return "9999"
    return value


@pytest.mark.parametrize("sort", [s.value for s in CaseSort])
def test_every_sort_order_pages_through_every_case_once_in_order(
    reviewer: httpx.Client, sort: str
) -> None:
    paged = walk(reviewer, sort=sort)
    assert len(set(ids(paged))) == len(paged)
    assert set(ids(paged)) == set(ids(every_case(reviewer)))
    field = sort.lstrip("-")
    keys = [(_sort_key(case, field), case["reference"]) for case in paged]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


# -- child lists ---------------------------------------------------------------------


def test_child_lists_paginate_like_cases(reviewer: httpx.Client) -> None:
    case = new_case(reviewer)
    for n in range(11):
        act(reviewer, case["id"], {"type": "comment", "body": f"message {n}"})
    for n in range(5):
        act(reviewer, case["id"], {"type": "escalate", "reason": f"escalation {n}"})
    expected_sizes = {"messages": 11, "escalations": 5, "actions": 17, "overrides": 0}
    for child, size in expected_sizes.items():
        url = f"/v1/cases/{case['id']}/{child}"
        whole = body_of(reviewer.get(url, params={"limit": limits.PAGE_LIMIT_MAX}), 200)
        assert whole["meta"]["page"] == {"cursor": None, "has_more": False}
        assert len(whole["data"]) == size
        for limit in (1, 3, 5):
            assert walk(reviewer, url, limit=limit) == whole["data"], (child, limit)
    messages = walk(reviewer, f"/v1/cases/{case['id']}/messages", limit=4)
    assert [m["body"] for m in messages] == [f"message {n}" for n in range(11)]
