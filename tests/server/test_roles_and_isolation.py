"""Who may do what (DESIGN.md's role table) and what one organization can see of another."""

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from casedesk.domain import limits

Json = dict[str, Any]


# -- helpers -------------------------------------------------------------------------


def body_of(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: Json = response.json()
    return body


def error_of(response: httpx.Response, status: int) -> Json:
    body = body_of(response, status)
    assert set(body) == {"error", "meta"}, body
    error: Json = body["error"]
    return error


def new_case(client: httpx.Client, **fields: Any) -> Json:
    payload = {"name": f"Roles case {uuid.uuid4().hex[:8]}", **fields}
    case: Json = body_of(client.post("/v1/cases", json=payload), 201)["data"]
    return case


def act(client: httpx.Client, case_id: str, action: Json) -> httpx.Response:
    return client.post(f"/v1/cases/{case_id}/actions", json=action)


def done(client: httpx.Client, case_id: str, action: Json) -> Json:
    data: Json = body_of(act(client, case_id, action), 201)["data"]
    return data


def read(client: httpx.Client, case_id: str) -> Json:
    case: Json = body_of(client.get(f"/v1/cases/{case_id}"), 200)["data"]
    return case


def log_of(client: httpx.Client, case_id: str) -> list[Json]:
    url = f"/v1/cases/{case_id}/actions"
    entries: list[Json] = body_of(client.get(url, params={"limit": limits.PAGE_LIMIT_MAX}), 200)[
        "data"
    ]
    return entries


def user_id(client: httpx.Client) -> str:
    return str(body_of(client.get("/v1/me"), 200)["data"]["id"])


def every_case(client: httpx.Client) -> list[Json]:
    found: list[Json] = []
    params: dict[str, Any] = {"limit": limits.PAGE_LIMIT_MAX}
    while True:
        page = body_of(client.get("/v1/cases", params=params), 200)
        found.extend(page["data"])
        if not page["meta"]["page"]["has_more"]:
            return found
        params["cursor"] = page["meta"]["page"]["cursor"]


def assert_refused_without_effect(
    client: httpx.Client, case_id: str, action: Json, status: int, code: str, owner: httpx.Client
) -> None:
    """`action` is answered `status`/`code` and leaves the case and its log untouched."""
    before, log_before = read(owner, case_id), log_of(owner, case_id)
    error = error_of(act(client, case_id, action), status)
    assert error["code"] == code, error
    assert read(owner, case_id) == before
    assert log_of(owner, case_id) == log_before


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clients(live_server: Any) -> Iterator[dict[str, httpx.Client]]:
    """Org 0: contributor, reviewer, both, a second reviewer (`setup`), a second contributor."""
    made = {
        "contributor": live_server.client(live_server.key("contributor")),
        "reviewer": live_server.client(live_server.key("reviewer")),
        "both": live_server.client(live_server.key("both")),
        "setup": live_server.client(live_server.key("reviewer", index=1)),
        "contributor2": live_server.client(live_server.key("contributor", index=1)),
    }
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def outsider(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("both", org=1)) as client:
        yield client


# -- the role table ------------------------------------------------------------------

Prepare = Callable[[httpx.Client, httpx.Client, Json], Json]
"""(setup client, actor client, fresh case) -> the action body the actor will send."""


def _escalated(setup: httpx.Client, case: Json) -> str:
    data = done(setup, case["id"], {"type": "escalate", "reason": "check"})
    return str(data["action"]["payload"]["escalation_id"])


def _override_by(client: httpx.Client, case: Json, reviewer_ids: list[str] | None = None) -> str:
    action = {
        "type": "request_override",
        "reason": "policy exception",
        "proposed_decision": "approve",
        "reviewer_ids": reviewer_ids or [],
    }
    return str(done(client, case["id"], action)["action"]["payload"]["override_id"])


def _queried(setup: httpx.Client, case: Json) -> Json:
    done(setup, case["id"], {"type": "query", "prompt": "Which shareholder is this?"})
    return {"type": "resume"}


def _closed(setup: httpx.Client, case: Json) -> Json:
    done(setup, case["id"], {"type": "close", "decision": "none"})
    return {"type": "reopen"}


PREPARE: dict[str, Prepare] = {
    "comment": lambda s, a, c: {"type": "comment", "body": "a note"},
    "escalate": lambda s, a, c: {"type": "escalate", "reason": "needs a second look"},
    "update_escalation": lambda s, a, c: {
        "type": "update_escalation",
        "escalations": [{"escalation_id": _escalated(s, c), "note": "followed up"}],
    },
    "complete_escalation": lambda s, a, c: {
        "type": "complete_escalation",
        "escalation_id": _escalated(s, c),
    },
    "query": lambda s, a, c: {"type": "query", "prompt": "Please send the register extract"},
    "resume": lambda s, a, c: _queried(s, c),
    "request_override": lambda s, a, c: {
        "type": "request_override",
        "reason": "exception",
        "proposed_decision": "reject",
        "reviewer_ids": [],
    },
    "accept_override": lambda s, a, c: {
        "type": "accept_override",
        "override_id": _override_by(s, c),
    },
    "refuse_override": lambda s, a, c: {
        "type": "refuse_override",
        "override_id": _override_by(s, c),
        "comment": "no",
    },
    "cancel_override": lambda s, a, c: {
        "type": "cancel_override",
        "override_id": _override_by(a, c),
    },
    "assign": lambda s, a, c: {"type": "assign", "assignee_id": user_id(s)},
    "close": lambda s, a, c: {"type": "close", "decision": "approve"},
    "reopen": lambda s, a, c: _closed(s, c),
}

REVIEWER_ONLY = {"assign", "close", "reopen", "accept_override", "refuse_override"}


@pytest.mark.parametrize("role", ["contributor", "reviewer", "both"])
@pytest.mark.parametrize("action_type", sorted(PREPARE))
def test_role_table_decides_who_may_perform_each_action(
    clients: dict[str, httpx.Client], role: str, action_type: str
) -> None:
    setup, actor = clients["setup"], clients[role]
    case = new_case(setup)
    action = PREPARE[action_type](setup, actor, case)
    if role == "contributor" and action_type in REVIEWER_ONLY:
        assert_refused_without_effect(actor, case["id"], action, 403, "forbidden_role", setup)
    else:
        before = read(setup, case["id"])
        data = done(actor, case["id"], action)
        assert data["action"]["type"] == action_type
        assert data["action"]["actor_id"] == user_id(actor)
        assert data["case"]["revision"] == before["revision"] + 1


def test_contributors_may_read_and_create_cases(clients: dict[str, httpx.Client]) -> None:
    contributor = clients["contributor"]
    case = new_case(contributor)
    assert read(contributor, case["id"])["id"] == case["id"]
    assert body_of(contributor.get("/v1/cases", params={"limit": 1}), 200)["data"]
    for child in ("messages", "escalations", "overrides", "actions"):
        body_of(contributor.get(f"/v1/cases/{case['id']}/{child}"), 200)


@pytest.mark.parametrize("creator_role", ["contributor", "reviewer", "both"])
def test_an_override_creator_may_not_decide_it_but_may_cancel_it(
    clients: dict[str, httpx.Client], creator_role: str
) -> None:
    creator, owner = clients[creator_role], clients["setup"]
    case = new_case(owner)
    override_id = _override_by(creator, case)
    expected = (
        "forbidden_role" if creator_role == "contributor" else "override_creator_cannot_decide"
    )
    accept = {"type": "accept_override", "override_id": override_id}
    refuse = {"type": "refuse_override", "override_id": override_id, "comment": "no"}
    assert_refused_without_effect(creator, case["id"], accept, 403, expected, owner)
    assert_refused_without_effect(creator, case["id"], refuse, 403, expected, owner)
    data = done(creator, case["id"], {"type": "cancel_override", "override_id": override_id})
    assert data["case"]["summary"]["pending_override_id"] is None


@pytest.mark.parametrize("other", ["contributor2", "reviewer", "both"])
def test_only_the_creator_may_cancel_an_override(
    clients: dict[str, httpx.Client], other: str
) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    override_id = _override_by(clients["contributor"], case)
    cancel = {"type": "cancel_override", "override_id": override_id}
    assert_refused_without_effect(
        clients[other], case["id"], cancel, 403, "override_creator_only", owner
    )


def test_with_named_reviewers_only_they_may_decide_the_override(
    clients: dict[str, httpx.Client],
) -> None:
    owner, chosen = clients["setup"], clients["both"]
    case = new_case(owner)
    override_id = _override_by(clients["contributor"], case, [user_id(chosen)])
    for action in (
        {"type": "accept_override", "override_id": override_id},
        {"type": "refuse_override", "override_id": override_id, "comment": "no"},
    ):
        assert_refused_without_effect(
            clients["reviewer"], case["id"], action, 403, "not_assigned_reviewer", owner
        )
        assert_refused_without_effect(
            owner, case["id"], action, 403, "not_assigned_reviewer", owner
        )
    data = done(chosen, case["id"], {"type": "accept_override", "override_id": override_id})
    assert data["action"]["actor_id"] == user_id(chosen)


def test_override_reviewers_must_be_reviewers_other_than_the_creator(
    clients: dict[str, httpx.Client],
) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    base = {"type": "request_override", "reason": "x", "proposed_decision": "approve"}
    not_a_reviewer = {**base, "reviewer_ids": [user_id(clients["contributor"])]}
    error = error_of(act(owner, case["id"], not_a_reviewer), 400)
    assert [d["path"] for d in error["details"]] == ["reviewer_ids.0"]
    themselves = {**base, "reviewer_ids": [user_id(clients["reviewer"]), user_id(owner)]}
    error = error_of(act(owner, case["id"], themselves), 400)
    assert [d["path"] for d in error["details"]] == ["reviewer_ids.1"]
    assert read(owner, case["id"])["summary"]["pending_override_id"] is None


def test_a_case_has_at_most_one_pending_override(clients: dict[str, httpx.Client]) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    first = _override_by(clients["contributor"], case)
    again = {"type": "request_override", "reason": "another", "proposed_decision": "reject"}
    assert_refused_without_effect(
        clients["both"], case["id"], again, 409, "override_pending", owner
    )
    assert read(owner, case["id"])["summary"]["pending_override_id"] == first
    done(clients["contributor"], case["id"], {"type": "cancel_override", "override_id": first})
    second = _override_by(clients["both"], case)
    assert read(owner, case["id"])["summary"]["pending_override_id"] == second


def test_a_decided_override_cannot_be_decided_or_cancelled_again(
    clients: dict[str, httpx.Client],
) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    override_id = _override_by(clients["contributor"], case)
    refuse = {"type": "refuse_override", "override_id": override_id, "comment": "no"}
    done(owner, case["id"], refuse)
    for client, action in (
        (clients["reviewer"], {"type": "accept_override", "override_id": override_id}),
        (clients["reviewer"], refuse),
        (clients["contributor"], {"type": "cancel_override", "override_id": override_id}),
    ):
        assert_refused_without_effect(
            client, case["id"], action, 409, "override_not_pending", owner
        )


def test_an_override_of_another_case_is_not_found_on_this_one(
    clients: dict[str, httpx.Client],
) -> None:
    owner = clients["setup"]
    elsewhere = _override_by(clients["contributor"], new_case(owner))
    case = new_case(owner)
    error = error_of(
        act(clients["reviewer"], case["id"], {"type": "accept_override", "override_id": elsewhere}),
        400,
    )
    assert error["code"] == "override_not_found"
    assert [d["path"] for d in error["details"]] == ["override_id"]


CLOSED_CASE_ACTIONS: list[Json] = [
    {"type": "comment", "body": "late"},
    {"type": "escalate", "reason": "late"},
    {"type": "query", "prompt": "late"},
    {"type": "resume"},
    {"type": "request_override", "reason": "late", "proposed_decision": "approve"},
    {"type": "accept_override", "override_id": str(uuid.uuid4())},
    {"type": "refuse_override", "override_id": str(uuid.uuid4()), "comment": "late"},
    {"type": "cancel_override", "override_id": str(uuid.uuid4())},
    {"type": "close", "decision": "reject"},
    {"type": "assign", "assignee_id": None},
]


def test_a_closed_case_takes_no_action_but_reopen(clients: dict[str, httpx.Client]) -> None:
    owner, both = clients["setup"], clients["both"]
    case = new_case(owner)
    escalation_id = _escalated(owner, case)
    closed = done(owner, case["id"], {"type": "close", "decision": "reject", "comment": "done"})
    assert closed["case"]["status"] == "closed"
    assert closed["case"]["decision"] == "reject"
    assert closed["case"]["closed_at"] is not None
    refused = [
        *CLOSED_CASE_ACTIONS,
        {"type": "update_escalation", "escalations": [{"escalation_id": escalation_id}]},
        {"type": "complete_escalation", "escalation_id": escalation_id},
    ]
    for action in refused:
        assert_refused_without_effect(both, case["id"], action, 409, "case_closed", owner)
    reopened = done(both, case["id"], {"type": "reopen", "comment": "new evidence"})["case"]
    assert reopened["status"] == "open"
    assert reopened["decision"] is None
    assert reopened["closed_at"] is None


@pytest.mark.parametrize("status", ["open", "in_progress", "querying", "draft"])
def test_reopen_is_only_for_closed_cases(clients: dict[str, httpx.Client], status: str) -> None:
    owner = clients["setup"]
    case = new_case(owner, status="draft" if status == "draft" else "open")
    if status == "in_progress":
        done(owner, case["id"], {"type": "assign", "assignee_id": user_id(owner)})
    if status == "querying":
        done(owner, case["id"], {"type": "query", "prompt": "?"})
    assert read(owner, case["id"])["status"] == status
    assert_refused_without_effect(
        clients["both"], case["id"], {"type": "reopen"}, 409, "case_not_closed", owner
    )


def test_assigning_an_open_case_starts_it(clients: dict[str, httpx.Client]) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    assignee = user_id(clients["contributor"])
    assigned = done(owner, case["id"], {"type": "assign", "assignee_id": assignee})["case"]
    assert assigned["status"] == "in_progress"
    assert assigned["assignee"]["id"] == assignee
    unassigned = done(owner, case["id"], {"type": "assign", "assignee_id": None})["case"]
    assert unassigned["assignee"] is None
    assert unassigned["status"] == "in_progress"


def test_assigning_a_querying_case_keeps_it_querying(clients: dict[str, httpx.Client]) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    done(owner, case["id"], {"type": "query", "prompt": "Which UBO?"})
    data = done(owner, case["id"], {"type": "assign", "assignee_id": user_id(owner)})
    assert data["case"]["status"] == "querying"


def test_assigning_a_user_of_another_organization_is_400(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    action = {"type": "assign", "assignee_id": user_id(outsider)}
    error = error_of(act(owner, case["id"], action), 400)
    assert [d["path"] for d in error["details"]] == ["assignee_id"]


def test_a_pending_override_blocks_closing(clients: dict[str, httpx.Client]) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    _override_by(clients["contributor"], case)
    close = {"type": "close", "decision": "approve"}
    assert_refused_without_effect(
        clients["reviewer"], case["id"], close, 409, "override_blocks_close", owner
    )


def test_query_and_resume_follow_the_querying_state(clients: dict[str, httpx.Client]) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    assert_refused_without_effect(
        owner, case["id"], {"type": "resume"}, 409, "case_not_querying", owner
    )
    done(owner, case["id"], {"type": "query", "prompt": "first"})
    assert_refused_without_effect(
        owner,
        case["id"],
        {"type": "query", "prompt": "second"},
        409,
        "case_already_querying",
        owner,
    )


# -- organizations see nothing of each other -----------------------------------------

CHILDREN = ("messages", "escalations", "overrides", "actions")


def test_another_organization_lists_none_of_our_cases(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    ours = {case["id"] for case in every_case(clients["reviewer"])}
    theirs = {case["id"] for case in every_case(outsider)}
    assert ours and theirs
    assert ours.isdisjoint(theirs)
    our_users = {u["id"] for u in body_of(clients["reviewer"].get("/v1/users"), 200)["data"]}
    their_users = {u["id"] for u in body_of(outsider.get("/v1/users"), 200)["data"]}
    assert our_users.isdisjoint(their_users)
    our_queues = {q["id"] for q in body_of(clients["reviewer"].get("/v1/queues"), 200)["data"]}
    their_queues = {q["id"] for q in body_of(outsider.get("/v1/queues"), 200)["data"]}
    assert our_queues.isdisjoint(their_queues)


def test_filtering_by_our_users_or_tags_shows_another_organization_nothing(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    owner = clients["setup"]
    label = f"private-{uuid.uuid4().hex[:6]}"
    case = new_case(owner, assignee_id=user_id(owner), tags=[label])
    tag_id = case["tags"][0]["id"]
    for params in (
        {"assignee": user_id(owner)},
        {"tag": tag_id},
        {"tag": label},
        {"q": case["name"]},
    ):
        assert body_of(outsider.get("/v1/cases", params=params), 200)["data"] == [], params


def _reference_unknown_to(outsider: httpx.Client, owner: httpx.Client) -> Json:
    """A case of ours whose reference no case of the other organization has."""
    newest = body_of(outsider.get("/v1/cases", params={"sort": "-reference", "limit": 1}), 200)
    their_top = int(newest["data"][0]["reference"].removeprefix("CAS-"))
    while True:
        case = new_case(owner)
        if int(case["reference"].removeprefix("CAS-")) > their_top:
            return case


def test_another_organization_gets_404_for_our_case_by_id_and_by_reference(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    owner = clients["setup"]
    case = _reference_unknown_to(outsider, owner)
    done(owner, case["id"], {"type": "comment", "body": "secret note"})
    missing = error_of(outsider.get(f"/v1/cases/{uuid.uuid4()}"), 404)
    for handle in (case["id"], case["reference"], case["reference"].lower()):
        answers = [outsider.get(f"/v1/cases/{handle}")]
        answers += [outsider.get(f"/v1/cases/{handle}/{child}") for child in CHILDREN]
        answers.append(act(outsider, handle, {"type": "comment", "body": "hello"}))
        for response in answers:
            assert error_of(response, 404) == missing, response.request.url
            assert case["name"] not in response.text
    log = log_of(owner, case["id"])
    assert [entry["type"] for entry in log] == ["create", "comment"]


def test_our_reference_names_their_own_case_for_another_organization(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    owner = clients["setup"]
    theirs = body_of(outsider.get("/v1/cases", params={"limit": 1}), 200)["data"][0]
    ours = body_of(owner.get(f"/v1/cases/{theirs['reference']}"), 200)["data"]
    assert ours["reference"] == theirs["reference"]
    assert ours["id"] != theirs["id"]


def test_another_organization_cannot_read_or_attach_our_documents(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    owner = clients["setup"]
    upload = owner.post("/v1/documents", files={"file": ("kyc.txt", b"private", "text/plain")})
    document = body_of(upload, 201)["data"]
    assert owner.get(f"/v1/documents/{document['id']}/content").content == b"private"
    missing = error_of(outsider.get(f"/v1/documents/{uuid.uuid4()}/content"), 404)
    assert error_of(outsider.get(f"/v1/documents/{document['id']}/content"), 404) == missing
    their_case = new_case(outsider)
    attach = {"type": "comment", "body": "look", "document_ids": [document["id"]]}
    error = error_of(act(outsider, their_case["id"], attach), 400)
    assert [d["path"] for d in error["details"]] == ["document_ids.0"]


def test_a_case_cannot_be_filed_in_another_organizations_queue(
    clients: dict[str, httpx.Client], outsider: httpx.Client
) -> None:
    their_queue = body_of(outsider.get("/v1/queues"), 200)["data"][0]
    response = clients["reviewer"].post(
        "/v1/cases", json={"name": "x", "queue_id": their_queue["id"]}
    )
    assert [d["path"] for d in error_of(response, 400)["details"]] == ["queue_id"]


def test_two_reviewers_deciding_one_override_at_once_decide_it_once(
    live_server: Any, clients: dict[str, httpx.Client]
) -> None:
    owner = clients["setup"]
    case = new_case(owner)
    override_id = _override_by(clients["contributor"], case)
    start = threading.Barrier(2)

    def decide(role: str, kind: str) -> int:
        with live_server.client(live_server.key(role)) as client:
            action: Json = {"type": kind, "override_id": override_id, "comment": "mine"}
            start.wait()
            return act(client, case["id"], action).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(
            pool.map(decide, ["reviewer", "both"], ["accept_override", "refuse_override"])
        )
    assert statuses == [201, 409]
    [override] = body_of(owner.get(f"/v1/cases/{case['id']}/overrides"), 200)["data"]
    assert override["status"] in {"accepted", "refused"}
    assert [e["type"] for e in log_of(owner, case["id"])].count("request_override") == 1
    assert len(log_of(owner, case["id"])) == 3


ROUTES: list[tuple[str, str, Json | None]] = [
    ("GET", "/v1/me", None),
    ("GET", "/v1/users", None),
    ("GET", "/v1/queues", None),
    ("GET", "/v1/cases", None),
    ("POST", "/v1/cases", {"name": "anonymous"}),
    ("GET", "/v1/cases/CAS-000001", None),
    ("GET", "/v1/cases/CAS-000001/messages", None),
    ("POST", "/v1/cases/CAS-000001/actions", {"type": "comment", "body": "x"}),
    ("GET", f"/v1/documents/{uuid.uuid4()}/content", None),
]


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"X-API-KEY": "cdk_not_a_real_key"},
        {"Authorization": "Bearer cdk_not_a_real_key"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
    ],
    ids=["no-key", "wrong-key", "wrong-bearer", "basic-auth"],
)
def test_requests_without_a_valid_key_are_401(
    live_server: Any, credentials: dict[str, str]
) -> None:
    with httpx.Client(base_url=live_server.base_url, headers=credentials, timeout=30) as client:
        for method, path, payload in ROUTES:
            response = client.request(method, path, json=payload)
            error = error_of(response, 401)
            assert error["code"] == "unauthenticated", path
        upload = client.post("/v1/documents", files={"file": ("a.txt", b"a", "text/plain")})
        assert error_of(upload, 401)["code"] == "unauthenticated"


def test_authorization_bearer_works_like_x_api_key(live_server: Any) -> None:
    key = live_server.key("reviewer")
    with (
        httpx.Client(base_url=live_server.base_url, headers={"X-API-KEY": key}) as by_header,
        httpx.Client(
            base_url=live_server.base_url, headers={"Authorization": f"Bearer {key}"}
        ) as by_bearer,
    ):
        assert (
            body_of(by_bearer.get("/v1/me"), 200)["data"]
            == (body_of(by_header.get("/v1/me"), 200)["data"])
        )
        case = new_case(by_bearer)
        assert read(by_header, case["id"])["id"] == case["id"]
