"""Contract tests: every documented example and error of the five reference API pages.

Each seed under `shared/seeds/` documents requests, responses and errors; here
they run against a real `casedesk serve --demo` over its socket. Where a seed
and DESIGN.md differ (CareValidate's 400 "Case not found" and 401 "other
organization", its top-level `data.escalations`), DESIGN.md's shape wins.
"""

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest

from casedesk.domain import limits

Json = dict[str, Any]
CONCURRENT_CREATIONS = 12


# -- helpers -------------------------------------------------------------------------


def body_of(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: Json = response.json()
    return body


def error_of(response: httpx.Response, status: int) -> Json:
    """The `error` object of an error answer, after checking the error envelope."""
    body = body_of(response, status)
    assert set(body) == {"error", "meta"}, body
    assert body["meta"]["request_id"].startswith("req_")
    assert {"code", "message", "details"} <= set(body["error"])
    error: Json = body["error"]
    return error


def paths_of(error: Json) -> list[str]:
    return [detail["path"] for detail in error["details"]]


def new_case(client: httpx.Client, **fields: Any) -> Json:
    payload = {"name": f"Contract case {uuid.uuid4().hex[:8]}", **fields}
    case: Json = body_of(client.post("/v1/cases", json=payload), 201)["data"]
    return case


def act(client: httpx.Client, case_id: str, action: Json, **kwargs: Any) -> httpx.Response:
    return client.post(f"/v1/cases/{case_id}/actions", json=action, **kwargs)


def done(client: httpx.Client, case_id: str, action: Json, **kwargs: Any) -> Json:
    """Perform an action that must succeed; returns `data` ({action, case, ...})."""
    data: Json = body_of(act(client, case_id, action, **kwargs), 201)["data"]
    return data


def listing(client: httpx.Client, case_id: str, child: str) -> list[Json]:
    items: list[Json] = body_of(
        client.get(f"/v1/cases/{case_id}/{child}", params={"limit": limits.PAGE_LIMIT_MAX}), 200
    )["data"]
    return items


def me(client: httpx.Client) -> Json:
    user: Json = body_of(client.get("/v1/me"), 200)["data"]
    return user


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewer(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("reviewer")) as client:
        yield client


@pytest.fixture(scope="module")
def second_reviewer(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("reviewer", index=1)) as client:
        yield client


@pytest.fixture(scope="module")
def contributor(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("contributor")) as client:
        yield client


@pytest.fixture(scope="module")
def outsider(live_server: Any) -> Iterator[httpx.Client]:
    """A reviewer of the other demo organization."""
    with live_server.client(live_server.key("reviewer", org=1)) as client:
        yield client


@pytest.fixture
def case(reviewer: httpx.Client) -> Json:
    return new_case(reviewer)


# -- Zenoo: POST /v1/cases/{case_token}/escalate --------------------------------------

ZENOO_CASE_FIELDS = {
    # seed field -> our field
    "token": "id",
    "name": "reference",
    "type": "type",
    "status": "status",
    "entity_category": "entity_category",
    "assigned_to": "assignee",
    "sla_deadline": "sla_deadline",
    "sla_status": "sla_status",
    "open_alerts_count": "open_alerts_count",
    "total_entities_count": "total_entities_count",
    "risk_tier": "risk_tier",
    "risk_score": "risk_score",
    "decision": "decision",
    "external_reference": "external_id",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "closed_at": "closed_at",
}


def test_zenoo_escalate_example_answers_the_action_and_the_escalated_case(
    reviewer: httpx.Client, second_reviewer: httpx.Client, case: Json
) -> None:
    target = me(second_reviewer)
    response = act(
        reviewer,
        case["id"],
        {
            "type": "escalate",
            "reason": "Adverse media hit needs a second look",
            "escalate_to": target["id"],
        },
    )
    body = body_of(response, 201)
    assert set(body) == {"data", "meta"}
    assert set(body["data"]) == {"action", "case"}
    assert body["meta"]["request_id"].startswith("req_")
    assert response.headers["X-Request-Id"] == body["meta"]["request_id"]
    escalated = body["data"]["case"]
    for seed_field, ours in ZENOO_CASE_FIELDS.items():
        assert ours in escalated, f"seed field {seed_field} (ours: {ours}) missing"
    assert escalated["name"] == case["name"]
    assert escalated["reference"] == case["reference"]
    assert escalated["id"] == case["id"]
    assert isinstance(escalated["open_alerts_count"], int)
    assert isinstance(escalated["total_entities_count"], int)
    assert isinstance(escalated["risk_score"], int)
    assert escalated["revision"] == case["revision"] + 1
    assert escalated["summary"]["open_escalations_count"] == 1
    action = body["data"]["action"]
    assert action["type"] == "escalate"
    assert action["case_revision"] == escalated["revision"]
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["reason"] == "Adverse media hit needs a second look"
    assert escalation["assigned_to_user_id"] == target["id"]
    assert escalation["is_completed"] is False


def test_zenoo_escalate_without_reason_is_400_naming_reason(
    reviewer: httpx.Client, case: Json
) -> None:
    error = error_of(act(reviewer, case["id"], {"type": "escalate"}), 400)
    assert error["code"] == "validation_error"
    assert paths_of(error) == ["reason"]


def test_zenoo_escalate_reason_longer_than_the_maximum_is_400_naming_reason(
    reviewer: httpx.Client, case: Json
) -> None:
    reason = "r" * (limits.ESCALATE_REASON_MAX + 1)
    error = error_of(act(reviewer, case["id"], {"type": "escalate", "reason": reason}), 400)
    assert paths_of(error) == ["reason"]
    assert len(listing(reviewer, case["id"], "escalations")) == 0


def test_zenoo_escalate_reason_of_exactly_the_maximum_is_accepted(
    reviewer: httpx.Client, case: Json
) -> None:
    reason = "r" * limits.ESCALATE_REASON_MAX
    done(reviewer, case["id"], {"type": "escalate", "reason": reason})
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["reason"] == reason


def test_zenoo_escalate_to_a_user_of_another_organization_is_400_naming_escalate_to(
    reviewer: httpx.Client, outsider: httpx.Client, case: Json
) -> None:
    stranger = me(outsider)
    response = act(
        reviewer, case["id"], {"type": "escalate", "reason": "x", "escalate_to": stranger["id"]}
    )
    error = error_of(response, 400)
    assert paths_of(error) == ["escalate_to"]
    assert listing(reviewer, case["id"], "escalations") == []


def test_zenoo_escalate_replayed_with_its_idempotency_key_returns_the_original_response(
    reviewer: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    action = {"type": "escalate", "reason": "Sanctions list match"}
    first = act(reviewer, case["id"], action, headers={"Idempotency-Key": key})
    again = act(reviewer, case["id"], action, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.json() == first.json()
    assert len(listing(reviewer, case["id"], "escalations")) == 1


# -- CareValidate: UPDATE_ESCALATION --------------------------------------------------


def escalate(client: httpx.Client, case_id: str, reason: str = "Address verification") -> str:
    data = done(client, case_id, {"type": "escalate", "reason": reason})
    escalation_id: str = data["action"]["payload"]["escalation_id"]
    return escalation_id


def assignable_user(client: httpx.Client) -> Json:
    users: list[Json] = body_of(client.get("/v1/users"), 200)["data"]
    return users[-1]


def test_carevalidate_update_escalation_example_changes_note_follow_up_and_assignee(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    agent = assignable_user(reviewer)
    data = done(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [
                {
                    "escalation_id": escalation_id,
                    "note": "Patient confirmed new address.",
                    "follow_up_due_at": "2025-06-15T09:00:00.000Z",
                    "assigned_to_email": agent["email"],
                }
            ],
        },
    )
    assert data["action"]["type"] == "update_escalation"
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["id"] == escalation_id
    assert escalation["note"] == "Patient confirmed new address."
    assert instant(escalation["follow_up_due_at"]) == instant("2025-06-15T09:00:00+00:00")
    assert escalation["assigned_to_user_id"] == agent["id"]
    assert escalation["is_completed"] is False
    assert instant(escalation["updated_at"]) >= instant(escalation["created_at"])


def test_carevalidate_unknown_escalation_is_400_listing_the_active_escalations(
    reviewer: httpx.Client, case: Json
) -> None:
    active = [escalate(reviewer, case["id"], f"Escalation {n}") for n in range(3)]
    done(reviewer, case["id"], {"type": "complete_escalation", "escalation_id": active[0]})
    unknown = "b9c8d7e6-f5a4-3210-fedc-ba9876543210"
    before = body_of(reviewer.get(f"/v1/cases/{case['id']}"), 200)["data"]
    response = act(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [
                {"escalation_id": active[1], "note": "must not be applied"},
                {"escalation_id": unknown, "note": "x"},
            ],
        },
    )
    error = error_of(response, 400)
    assert error["code"] == "escalation_not_found"
    assert unknown in error["message"]
    assert "escalations" not in response.json()  # DESIGN.md: error.data, not data
    listed = error["data"]["escalations"]
    assert [item["id"] for item in listed] == active[1:]
    assert all(item["is_completed"] is False for item in listed)
    assert "escalations.1.escalation_id" in paths_of(error)
    # Nothing of the batch was applied, and the case did not move.
    assert all(item["note"] is None for item in listing(reviewer, case["id"], "escalations"))
    assert body_of(reviewer.get(f"/v1/cases/{case['id']}"), 200)["data"] == before


def test_carevalidate_escalation_id_that_is_not_a_uuid_is_400_naming_its_path(
    reviewer: httpx.Client, case: Json
) -> None:
    response = act(
        reviewer,
        case["id"],
        {"type": "update_escalation", "escalations": [{"escalation_id": "not-a-uuid"}]},
    )
    error = error_of(response, 400)
    assert error["code"] == "validation_error"
    assert paths_of(error) == ["escalations.0.escalation_id"]
    assert "uuid" in error["details"][0]["message"].lower()


def test_carevalidate_unknown_field_in_an_update_is_400_naming_its_path(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    response = act(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [{"escalation_id": escalation_id, "unknownField": "x"}],
        },
    )
    error = error_of(response, 400)
    assert paths_of(error) == ["escalations.0.unknownField"]
    assert "unknownField" in error["details"][0]["message"]


def test_carevalidate_empty_escalations_array_is_400_naming_escalations(
    reviewer: httpx.Client, case: Json
) -> None:
    response = act(reviewer, case["id"], {"type": "update_escalation", "escalations": []})
    error = error_of(response, 400)
    assert paths_of(error) == ["escalations"]


def test_carevalidate_assignee_email_matches_whatever_its_case(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    agent = assignable_user(reviewer)
    item = {"escalation_id": escalation_id, "assigned_to_email": agent["email"].upper()}
    done(reviewer, case["id"], {"type": "update_escalation", "escalations": [item]})
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["assigned_to_user_id"] == agent["id"]


def test_carevalidate_unknown_assignee_email_is_400_with_the_seed_message(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    response = act(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [
                {"escalation_id": escalation_id, "assigned_to_email": "agent@example.com"}
            ],
        },
    )
    error = error_of(response, 400)
    assert error["message"] == (
        "No assignable user found with email agent@example.com for this organization"
    )
    assert paths_of(error) == ["escalations.0.assigned_to_email"]
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["assigned_to_user_id"] is None


def test_carevalidate_assignee_of_another_organization_is_not_assignable(
    reviewer: httpx.Client, outsider: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    stranger = me(outsider)
    response = act(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [
                {"escalation_id": escalation_id, "assigned_to_email": stranger["email"]}
            ],
        },
    )
    error = error_of(response, 400)
    assert paths_of(error) == ["escalations.0.assigned_to_email"]
    assert stranger["email"] in error["message"]


def test_carevalidate_follow_up_due_at_needs_a_time_zone(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    item = {"escalation_id": escalation_id, "follow_up_due_at": "2025-06-15T09:00:00"}
    response = act(reviewer, case["id"], {"type": "update_escalation", "escalations": [item]})
    assert paths_of(error_of(response, 400)) == ["escalations.0.follow_up_due_at"]
    offset = {**item, "follow_up_due_at": "2025-06-15T11:00:00+02:00"}
    done(reviewer, case["id"], {"type": "update_escalation", "escalations": [offset]})
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["follow_up_due_at"].startswith("2025-06-15T09:00:00")
    assert escalation["follow_up_due_at"].endswith("Z")


@pytest.mark.parametrize("due", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_carevalidate_follow_up_due_at_at_the_edge_of_the_calendar_is_400(
    live_server: Any, case: Json, due: str
) -> None:
    # A client of its own: a 500 makes the server drop the connection.
    with live_server.client(live_server.key("reviewer")) as client:
        escalation_id = escalate(client, case["id"])
        item = {"escalation_id": escalation_id, "follow_up_due_at": due}
        response = act(client, case["id"], {"type": "update_escalation", "escalations": [item]})
    assert paths_of(error_of(response, 400)) == ["escalations.0.follow_up_due_at"]


def test_carevalidate_the_same_escalation_twice_in_one_update_is_400(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    items = [{"escalation_id": escalation_id, "note": "a"}, {"escalation_id": escalation_id}]
    response = act(reviewer, case["id"], {"type": "update_escalation", "escalations": items})
    assert paths_of(error_of(response, 400)) == ["escalations.1.escalation_id"]
    assert listing(reviewer, case["id"], "escalations")[0]["note"] is None


def test_carevalidate_case_not_found_is_404(reviewer: httpx.Client) -> None:
    response = act(
        reviewer,
        str(uuid.uuid4()),
        {"type": "update_escalation", "escalations": [{"escalation_id": str(uuid.uuid4())}]},
    )
    error = error_of(response, 404)
    assert error["code"] == "not_found"


def test_carevalidate_case_of_another_organization_is_404_and_leaks_nothing(
    reviewer: httpx.Client, outsider: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    update = {"type": "update_escalation", "escalations": [{"escalation_id": escalation_id}]}
    theirs = act(outsider, case["id"], update)
    missing = act(outsider, str(uuid.uuid4()), update)
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs, 404) == error_of(missing, 404)
    for secret in (case["name"], case["reference"], escalation_id):
        assert secret not in theirs.text
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["updated_at"] == escalation["created_at"]


def test_carevalidate_completed_escalation_cannot_be_updated(
    reviewer: httpx.Client, case: Json
) -> None:
    escalation_id = escalate(reviewer, case["id"])
    done(
        reviewer,
        case["id"],
        {"type": "complete_escalation", "escalation_id": escalation_id, "note": "resolved"},
    )
    response = act(
        reviewer,
        case["id"],
        {
            "type": "update_escalation",
            "escalations": [{"escalation_id": escalation_id, "note": "x"}],
        },
    )
    error = error_of(response, 400)
    assert error["code"] == "escalation_not_found"
    assert error["data"]["escalations"] == []
    [escalation] = listing(reviewer, case["id"], "escalations")
    assert escalation["is_completed"] is True
    assert escalation["note"] == "resolved"


# -- SoftwareOne: the case object -----------------------------------------------------


def demo_case_with_chat(client: httpx.Client) -> Json:
    cases: list[Json] = body_of(client.get("/v1/cases", params={"limit": 100}), 200)["data"]
    return next(
        c
        for c in cases
        if c["summary"]["messages_count"] >= 2 and c["parameters"] and c["assignee"]
    )


def test_softwareone_case_object_carries_chat_summary_revision_and_parameters(
    reviewer: httpx.Client,
) -> None:
    demo = demo_case_with_chat(reviewer)
    got = body_of(reviewer.get(f"/v1/cases/{demo['id']}"), 200)["data"]
    assert isinstance(got["revision"], int)
    assert got["revision"] == len(listing(reviewer, got["id"], "actions"))
    messages = listing(reviewer, got["id"], "messages")
    assert got["summary"]["messages_count"] == len(messages)
    assert got["summary"]["last_message_at"] == messages[-1]["created_at"]
    for parameter in got["parameters"]:
        assert set(parameter) >= {
            "id",
            "name",
            "scope",
            "phase",
            "constraints",
            "external_id",
            "value",
        }
        assert parameter["scope"] in {"case", "queue", "account"}
        assert parameter["phase"] in {"request", "processing", "completion"}
        assert isinstance(parameter["constraints"]["visible_to_reporter"], bool)
    assert got["status"] in {"draft", "open", "in_progress", "querying", "closed"}
    assert isinstance(got["awaiting"], bool)
    assert "query_prompt" in got
    assert set(got["queue"]) == {"id", "name", "workflow"}
    assert set(got["assignee"]) >= {"id", "name", "email"}
    assert set(got["account"]) >= {"id", "name"}
    assert set(got["reporter"]) >= {"id", "name"}


def test_softwareone_revision_is_one_at_creation_and_grows_by_one_per_action(
    reviewer: httpx.Client, case: Json
) -> None:
    assert case["revision"] == 1
    for expected in (2, 3, 4):
        data = done(reviewer, case["id"], {"type": "comment", "body": f"step {expected}"})
        assert data["case"]["revision"] == expected
    got = body_of(reviewer.get(f"/v1/cases/{case['id']}"), 200)
    assert got["data"]["revision"] == 4


def test_softwareone_query_moves_the_case_to_querying_and_resume_back_to_in_progress(
    reviewer: httpx.Client, case: Json
) -> None:
    prompt = "Can you please fill in the form with the required information?"
    queried = done(reviewer, case["id"], {"type": "query", "prompt": prompt})["case"]
    assert queried["status"] == "querying"
    assert queried["query_prompt"] == prompt
    assert queried["sla_status"] == "paused"
    last = listing(reviewer, case["id"], "messages")[-1]
    assert last["kind"] == "query_prompt"
    assert last["body"] == prompt
    resumed = done(reviewer, case["id"], {"type": "resume"})["case"]
    assert resumed["status"] == "in_progress"
    assert resumed["query_prompt"] is None
    assert resumed["sla_status"] != "paused"
    assert instant(resumed["sla_deadline"]) >= instant(case["sla_deadline"])


def test_softwareone_the_sla_clock_stands_still_while_querying(
    reviewer: httpx.Client, case: Json
) -> None:
    asked = done(reviewer, case["id"], {"type": "query", "prompt": "Which director signs?"})
    assert asked["case"]["sla_deadline"] == case["sla_deadline"]
    resumed = done(reviewer, case["id"], {"type": "resume"})
    paused_for = instant(resumed["action"]["created_at"]) - instant(asked["action"]["created_at"])
    moved_by = instant(resumed["case"]["sla_deadline"]) - instant(case["sla_deadline"])
    assert moved_by == paused_for


# -- Payments: case actions -----------------------------------------------------------


def upload(client: httpx.Client, name: str, content: bytes, content_type: str) -> Json:
    response = client.post("/v1/documents", files={"file": (name, content, content_type)})
    document: Json = body_of(response, 201)["data"]
    return document


def test_payments_comment_with_documents_includes_comment_documents_and_user(
    contributor: httpx.Client, case: Json
) -> None:
    content = b"%PDF-1.4 proof of address\n"
    document = upload(contributor, "proof.pdf", content, "application/pdf")
    assert document["size"] == len(content)
    response = act(
        contributor,
        case["id"],
        {"type": "comment", "body": "Proof attached", "document_ids": [document["id"]]},
        params={"include": "comment,comment.documents,user"},
    )
    data = body_of(response, 201)["data"]
    assert data["comment"]["body"] == "Proof attached"
    assert data["comment"]["kind"] == "message"
    assert [d["id"] for d in data["comment"]["documents"]] == [document["id"]]
    assert data["comment.documents"] == [document]
    assert data["user"]["id"] == me(contributor)["id"]
    [message] = listing(contributor, case["id"], "messages")
    assert message["documents"] == [document]
    download = contributor.get(f"/v1/documents/{document['id']}/content")
    assert download.status_code == 200
    assert download.content == content


def test_payments_upload_with_an_unknown_form_field_is_400_naming_it(
    contributor: httpx.Client,
) -> None:
    response = contributor.post(
        "/v1/documents",
        files={"file": ("a.txt", b"abc", "text/plain")},
        data={"caption": "typo of a field we do not have"},
    )
    assert paths_of(error_of(response, 400)) == ["caption"]


def test_payments_upload_without_a_file_is_400_naming_file(contributor: httpx.Client) -> None:
    response = contributor.post("/v1/documents", files={"other": ("a.txt", b"abc", "text/plain")})
    assert paths_of(error_of(response, 400)) == ["file"]


def test_payments_upload_larger_than_the_limit_is_413_and_the_limit_itself_is_accepted(
    contributor: httpx.Client,
) -> None:
    limit = limits.DOCUMENT_MAX_BYTES
    too_big = {"file": ("scan.bin", b"\0" * (limit + 1), "application/octet-stream")}
    error = error_of(contributor.post("/v1/documents", files=too_big), 413)
    assert error["code"] == "payload_too_large"
    at_limit = {"file": ("scan.bin", b"\0" * limit, "application/octet-stream")}
    assert body_of(contributor.post("/v1/documents", files=at_limit), 201)["data"]["size"] == limit


def test_payments_unknown_include_is_400_naming_include(
    contributor: httpx.Client, case: Json
) -> None:
    response = act(
        contributor,
        case["id"],
        {"type": "comment", "body": "x"},
        params={"include": "comment,attachments"},
    )
    assert paths_of(error_of(response, 400)) == ["include"]
    assert listing(contributor, case["id"], "messages") == []


def test_payments_comment_with_an_unknown_document_is_400_naming_it(
    contributor: httpx.Client, case: Json
) -> None:
    response = act(
        contributor,
        case["id"],
        {"type": "comment", "body": "x", "document_ids": [str(uuid.uuid4())]},
    )
    assert paths_of(error_of(response, 400)) == ["document_ids.0"]
    assert listing(contributor, case["id"], "messages") == []


def request_override(client: httpx.Client, case_id: str, **fields: Any) -> Json:
    action = {
        "type": "request_override",
        "reason": "Risk accepted by policy",
        "proposed_decision": "approve",
    }
    return done(
        client,
        case_id,
        {**action, **fields},
        params={"include": "override,override.assigned_reviewers"},
    )


def test_payments_override_request_includes_the_override_and_its_assigned_reviewers(
    contributor: httpx.Client, second_reviewer: httpx.Client, case: Json
) -> None:
    chosen = me(second_reviewer)
    data = request_override(contributor, case["id"], reviewer_ids=[chosen["id"]])
    override = data["override"]
    assert override["status"] == "pending"
    assert override["creator_id"] == me(contributor)["id"]
    assert override["reviewer_ids"] == [chosen["id"]]
    assert [user["id"] for user in data["override.assigned_reviewers"]] == [chosen["id"]]
    assert data["case"]["summary"]["pending_override_id"] == override["id"]


def test_payments_override_accepted_by_another_reviewer(
    contributor: httpx.Client, reviewer: httpx.Client, case: Json
) -> None:
    override = request_override(contributor, case["id"])["override"]
    data = done(
        reviewer,
        case["id"],
        {"type": "accept_override", "override_id": override["id"], "comment": "Agreed"},
        params={"include": "override"},
    )
    assert data["override"]["status"] == "accepted"
    assert data["override"]["decided_by_id"] == me(reviewer)["id"]
    assert data["override"]["decision_comment"] == "Agreed"
    assert data["case"]["summary"]["pending_override_id"] is None
    [stored] = listing(reviewer, case["id"], "overrides")
    assert stored["status"] == "accepted"


def test_payments_refusing_an_override_needs_a_comment(
    contributor: httpx.Client, reviewer: httpx.Client, case: Json
) -> None:
    override = request_override(contributor, case["id"])["override"]
    error = error_of(
        act(reviewer, case["id"], {"type": "refuse_override", "override_id": override["id"]}), 400
    )
    assert paths_of(error) == ["comment"]
    data = done(
        reviewer,
        case["id"],
        {
            "type": "refuse_override",
            "override_id": override["id"],
            "comment": "Not enough evidence",
        },
        params={"include": "override"},
    )
    assert data["override"]["status"] == "refused"
    assert data["override"]["decision_comment"] == "Not enough evidence"
    assert data["case"]["summary"]["pending_override_id"] is None
    assert data["case"]["status"] != "closed"


def test_payments_override_cancelled_by_its_creator(contributor: httpx.Client, case: Json) -> None:
    override = request_override(contributor, case["id"])["override"]
    data = done(
        contributor,
        case["id"],
        {"type": "cancel_override", "override_id": override["id"]},
        params={"include": "override"},
    )
    assert data["override"]["status"] == "cancelled"
    assert data["case"]["summary"]["pending_override_id"] is None


def test_payments_role_rules_of_the_case_actions_seed(
    contributor: httpx.Client, reviewer: httpx.Client, second_reviewer: httpx.Client, case: Json
) -> None:
    # comment: contributors and reviewers.
    done(contributor, case["id"], {"type": "comment", "body": "by a contributor"})
    done(reviewer, case["id"], {"type": "comment", "body": "by a reviewer"})
    override = request_override(reviewer, case["id"])["override"]
    decide = {"type": "accept_override", "override_id": override["id"]}
    # accept / refuse: reviewers only, not the override's creator.
    assert error_of(act(contributor, case["id"], decide), 403)["code"] == "forbidden_role"
    assert error_of(act(reviewer, case["id"], decide), 403)["code"] == (
        "override_creator_cannot_decide"
    )
    refuse = {"type": "refuse_override", "override_id": override["id"], "comment": "no"}
    assert error_of(act(reviewer, case["id"], refuse), 403)["code"] == (
        "override_creator_cannot_decide"
    )
    # cancel: the creator only.
    cancel = {"type": "cancel_override", "override_id": override["id"]}
    assert error_of(act(second_reviewer, case["id"], cancel), 403)["code"] == (
        "override_creator_only"
    )
    assert error_of(act(contributor, case["id"], cancel), 403)["code"] == "override_creator_only"
    done(reviewer, case["id"], cancel)


def test_payments_every_action_appends_one_permanent_log_entry(
    contributor: httpx.Client, reviewer: httpx.Client, case: Json
) -> None:
    log = listing(reviewer, case["id"], "actions")
    assert [entry["type"] for entry in log] == ["create"]
    steps: list[tuple[httpx.Client, Json]] = [
        (contributor, {"type": "comment", "body": "hello"}),
        (contributor, {"type": "escalate", "reason": "check"}),
        (reviewer, {"type": "assign", "assignee_id": me(reviewer)["id"]}),
        (reviewer, {"type": "close", "decision": "approve", "comment": "fine"}),
        (reviewer, {"type": "reopen"}),
    ]
    for client, action in steps:
        entry = done(client, case["id"], action)["action"]
        log_now = listing(reviewer, case["id"], "actions")
        assert len(log_now) == len(log) + 1
        assert log_now[:-1] == log, "earlier entries never change"
        assert log_now[-1] == entry
        log = log_now
    assert [entry["case_revision"] for entry in log] == list(range(1, len(log) + 1))
    assert [entry["type"] for entry in log] == ["create", *(a["type"] for _, a in steps)]


def test_payments_accept_language_fr_gives_french_error_messages(
    live_server: Any, case: Json
) -> None:
    key = live_server.key("contributor")
    close = {"type": "close", "decision": "approve"}
    bad = {"type": "escalate"}
    with (
        live_server.client(key) as default,
        live_server.client(key, **{"Accept-Language": "en"}) as english,
        live_server.client(key, **{"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"}) as french,
    ):
        assert error_of(act(default, case["id"], close), 403)["message"] == (
            "Your role does not allow the action close; it needs: reviewer."
        )
        assert error_of(act(english, case["id"], close), 403)["message"].startswith("Your role")
        assert error_of(act(french, case["id"], close), 403)["message"] == (
            "Votre rôle ne permet pas l'action close ; rôle requis : reviewer."
        )
        english_error = error_of(act(english, case["id"], bad), 400)
        french_error = error_of(act(french, case["id"], bad), 400)
        assert (
            english_error["message"] == "The request is malformed or contains invalid parameters."
        )
        assert french_error["message"] == (
            "La requête est mal formée ou contient des paramètres invalides."
        )
        assert paths_of(french_error) == paths_of(english_error) == ["reason"]
        assert french_error["details"][0]["message"] == "Champ obligatoire"


def test_payments_french_error_details_are_french_too(live_server: Any, case: Json) -> None:
    key = live_server.key("reviewer")
    with (
        live_server.client(key) as english,
        live_server.client(key, **{"Accept-Language": "fr"}) as french,
    ):
        escalation_id = escalate(english, case["id"])
        update = {
            "type": "update_escalation",
            "escalations": [{"escalation_id": escalation_id, "assigned_to_email": "a@example.com"}],
        }
        english_error = error_of(act(english, case["id"], update), 400)
        french_error = error_of(act(french, case["id"], update), 400)
    assert french_error["message"] != english_error["message"]
    assert french_error["details"][0]["message"] != english_error["details"][0]["message"]


def test_payments_french_not_found_message_is_all_french(live_server: Any) -> None:
    with live_server.client(live_server.key("reviewer"), **{"Accept-Language": "fr"}) as french:
        error = error_of(french.get(f"/v1/cases/{uuid.uuid4()}"), 404)
    assert "Case" not in error["message"]


# -- Dotfile: create a case -----------------------------------------------------------


def create_error(client: httpx.Client, payload: Json, status: int = 400) -> Json:
    return error_of(client.post("/v1/cases", json=payload), status)


@pytest.mark.parametrize("length", [limits.CASE_NAME_MIN - 1, limits.CASE_NAME_MAX + 1])
def test_dotfile_name_outside_its_length_is_400_naming_name(
    reviewer: httpx.Client, length: int
) -> None:
    assert paths_of(create_error(reviewer, {"name": "n" * length})) == ["name"]


@pytest.mark.parametrize("length", [limits.CASE_NAME_MIN, limits.CASE_NAME_MAX])
def test_dotfile_name_at_its_length_limits_is_accepted(reviewer: httpx.Client, length: int) -> None:
    assert new_case(reviewer, name="n" * length)["name"] == "n" * length


def test_dotfile_status_defaults_to_open_and_may_be_draft(reviewer: httpx.Client) -> None:
    assert new_case(reviewer)["status"] == "open"
    assert new_case(reviewer, status="draft")["status"] == "draft"


@pytest.mark.parametrize("status", ["closed", "in_progress", "approved", "rejected"])
def test_dotfile_status_other_than_draft_or_open_is_400_naming_status(
    reviewer: httpx.Client, status: str
) -> None:
    assert paths_of(create_error(reviewer, {"name": "x", "status": status})) == ["status"]


def test_dotfile_refused_status_message_names_the_allowed_values_plainly(
    reviewer: httpx.Client,
) -> None:
    message = create_error(reviewer, {"name": "x", "status": "closed"})["details"][0]["message"]
    assert "'draft'" in message and "'open'" in message
    assert "CaseStatus" not in message and "<" not in message


def test_dotfile_external_id_must_be_unique(reviewer: httpx.Client) -> None:
    external_id = f"ext-{uuid.uuid4()}"
    assert new_case(reviewer, external_id=external_id)["external_id"] == external_id
    error = create_error(reviewer, {"name": "again", "external_id": external_id}, 409)
    assert error["code"] == "external_id_taken"
    assert paths_of(error) == ["external_id"]


def test_dotfile_concurrent_creations_keep_external_ids_unique_and_references_distinct(
    live_server: Any,
) -> None:
    external_id = f"ext-race-{uuid.uuid4()}"
    label = f"Race-{uuid.uuid4().hex[:6]}"
    start = threading.Barrier(CONCURRENT_CREATIONS)

    def create(n: int) -> httpx.Response:
        with live_server.client(live_server.key("reviewer")) as client:
            payload: Json = {"name": f"Race {n}", "tags": [label]}
            if n % 2 == 0:
                payload["external_id"] = external_id
            start.wait()
            return client.post("/v1/cases", json=payload)

    with ThreadPoolExecutor(CONCURRENT_CREATIONS) as pool:
        answers = list(pool.map(create, range(CONCURRENT_CREATIONS)))
    with_external_id = [a.status_code for n, a in enumerate(answers) if n % 2 == 0]
    assert sorted(with_external_id) == [201] + [409] * (len(with_external_id) - 1)
    created = [a.json()["data"] for a in answers if a.status_code == 201]
    assert len({case["reference"] for case in created}) == len(created)
    assert len({tag["id"] for case in created for tag in case["tags"]}) == 1


@pytest.mark.parametrize("name", ["   ", "\t\n"])
def test_dotfile_a_blank_name_is_400_naming_name(reviewer: httpx.Client, name: str) -> None:
    assert paths_of(create_error(reviewer, {"name": name})) == ["name"]


def test_dotfile_template_key_and_template_id_together_are_400(reviewer: httpx.Client) -> None:
    payload = {"name": "x", "template_key": "kyb-standard", "template_id": str(uuid.uuid4())}
    assert "template_id" in paths_of(create_error(reviewer, payload))


def test_dotfile_unknown_template_key_is_400_and_a_known_one_is_kept(
    reviewer: httpx.Client,
) -> None:
    payload = {"name": "x", "template_key": f"no-such-{uuid.uuid4().hex[:6]}"}
    assert paths_of(create_error(reviewer, payload)) == ["template_key"]
    assert new_case(reviewer, template_key="kyb-standard")["template_key"] == "kyb-standard"


def test_dotfile_assignee_id_assigns_the_new_case(
    reviewer: httpx.Client, outsider: httpx.Client
) -> None:
    user = me(reviewer)
    created = new_case(reviewer, assignee_id=user["id"])
    assert created["assignee"]["id"] == user["id"]
    assert created["status"] == "in_progress"  # DESIGN: assigning an open case starts it
    stranger = me(outsider)
    assert paths_of(create_error(reviewer, {"name": "x", "assignee_id": stranger["id"]})) == [
        "assignee_id"
    ]


def test_dotfile_metadata_is_kept_and_must_be_strings(reviewer: httpx.Client) -> None:
    metadata = {"crm_id": "A-42", "source": "api"}
    assert new_case(reviewer, metadata=metadata)["metadata"] == metadata
    assert paths_of(create_error(reviewer, {"name": "x", "metadata": {"n": 1}})) == ["metadata.n"]


def test_dotfile_custom_properties_of_every_type_are_kept(reviewer: httpx.Client) -> None:
    properties = {"tier": "premium", "pep": True, "sources": ["manual"], "score": 3.5}
    assert new_case(reviewer, custom_properties=properties)["custom_properties"] == properties


@pytest.mark.parametrize(
    ("properties", "path"),
    [
        ({"no_such_property": "x"}, "custom_properties.no_such_property"),
        ({"legacy_id": "L-1"}, "custom_properties.legacy_id"),
        ({"pep": "yes"}, "custom_properties.pep"),
        ({"score": True}, "custom_properties.score"),
        ({"tier": ["a"]}, "custom_properties.tier"),
    ],
    ids=["unknown", "archived", "string-for-boolean", "boolean-for-number", "list-for-string"],
)
def test_dotfile_refused_custom_property_is_400_naming_it(
    reviewer: httpx.Client, properties: Json, path: str
) -> None:
    error = create_error(reviewer, {"name": "x", "custom_properties": properties})
    assert paths_of(error) == [path]


def test_dotfile_custom_property_of_no_known_type_is_one_error_naming_it(
    reviewer: httpx.Client,
) -> None:
    error = create_error(reviewer, {"name": "x", "custom_properties": {"sources": [1]}})
    assert paths_of(error) in (["custom_properties.sources"], ["custom_properties.sources.0"])


def test_dotfile_a_number_beyond_64_bits_is_refused_not_rounded(reviewer: httpx.Client) -> None:
    huge = 2**64 + 1
    raw = b'{"name": "big", "custom_properties": {"score": %d}}' % huge
    response = reviewer.post("/v1/cases", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.json()["data"]["custom_properties"]


def test_dotfile_tags_by_id_or_case_insensitive_label(reviewer: httpx.Client) -> None:
    first = new_case(reviewer, tags=["PEP", "pep", "Pep"])
    [pep] = first["tags"]
    assert pep["label"].casefold() == "pep"
    by_id = new_case(reviewer, tags=[pep["id"]])
    assert by_id["tags"] == [pep]


def test_dotfile_unknown_tag_label_creates_one_tag(reviewer: httpx.Client) -> None:
    label = f"Watch-{uuid.uuid4().hex[:6]}"
    [created] = new_case(reviewer, tags=[label])["tags"]
    assert created["label"] == label
    [again] = new_case(reviewer, tags=[label.lower()])["tags"]
    assert again == created
    listed = body_of(reviewer.get("/v1/cases", params={"tag": label.upper()}), 200)["data"]
    assert len(listed) == 2


def company(ref: str, kind: str = "main", **fields: Any) -> Json:
    return {"ref": ref, "type": kind, "name": f"{ref.title()} Holdings", **fields}


def test_dotfile_companies_and_related_individuals_are_created(reviewer: httpx.Client) -> None:
    created = new_case(
        reviewer,
        companies=[
            company("main", country="FR", registration_number="RCS-1"),
            company("sub", "affiliated"),
        ],
        individuals=[
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "birth_date": "1815-12-10",
                "relations": [
                    {
                        "source_company_ref": "main",
                        "roles": ["director", "shareholder"],
                        "ownership_percentage": 40,
                    },
                    {"source_company_ref": "sub", "roles": ["beneficial_owner"]},
                ],
            }
        ],
    )
    assert [c["ref"] for c in created["companies"]] == ["main", "sub"]
    assert created["total_entities_count"] == 3
    [person] = created["individuals"]
    assert [r["source_company_ref"] for r in person["relations"]] == ["main", "sub"]


def test_dotfile_entity_category_follows_the_entities(reviewer: httpx.Client) -> None:
    person = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}
    alone = new_case(reviewer, individuals=[person])
    assert alone["entity_category"] == "individual"
    assert alone["total_entities_count"] == 1
    assert new_case(reviewer, companies=[company("main")])["entity_category"] == "company"


@pytest.mark.parametrize("mains", [0, 2])
def test_dotfile_companies_need_exactly_one_main(reviewer: httpx.Client, mains: int) -> None:
    companies = [company(f"c{n}", "main" if n < mains else "affiliated") for n in range(3)]
    error = create_error(reviewer, {"name": "x", "companies": companies})
    assert paths_of(error) == ["companies"]


def test_dotfile_duplicate_company_refs_are_400(reviewer: httpx.Client) -> None:
    companies = [company("acme"), company("acme", "affiliated")]
    error = create_error(reviewer, {"name": "x", "companies": companies})
    assert paths_of(error) == ["companies.1.ref"]


def test_dotfile_relation_to_a_company_not_in_the_payload_is_400(reviewer: httpx.Client) -> None:
    payload = {
        "name": "x",
        "companies": [company("acme")],
        "individuals": [
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "relations": [{"source_company_ref": "elsewhere", "roles": ["director"]}],
            }
        ],
    }
    error = create_error(reviewer, payload)
    assert paths_of(error) == ["individuals.0.relations.0.source_company_ref"]


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "companies": [company("a", extra=1)]}, "companies.0.extra"),
        (
            {"name": "x", "individuals": [{"first_name": "a", "last_name": "b", "extra": 1}]},
            "individuals.0.extra",
        ),
        (
            {
                "name": "x",
                "companies": [company("a")],
                "individuals": [
                    {
                        "first_name": "a",
                        "last_name": "b",
                        "relations": [
                            {"source_company_ref": "a", "roles": ["director"], "extra": 1}
                        ],
                    }
                ],
            },
            "individuals.0.relations.0.extra",
        ),
    ],
    ids=["top-level", "company", "individual", "relation"],
)
def test_dotfile_unknown_fields_anywhere_are_400_naming_the_path(
    reviewer: httpx.Client, payload: Json, path: str
) -> None:
    error = create_error(reviewer, payload)
    assert paths_of(error) == [path]
    assert "extra" in error["details"][0]["message"] or "colour" in error["details"][0]["message"]


def test_dotfile_nothing_is_created_by_a_refused_payload(reviewer: httpx.Client) -> None:
    name = f"Refused {uuid.uuid4().hex}"
    create_error(reviewer, {"name": name, "custom_properties": {"legacy_id": "x"}})
    create_error(reviewer, {"name": name, "companies": [company("a", "affiliated")]})
    found = body_of(reviewer.get("/v1/cases", params={"q": name}), 200)["data"]
    assert found == []
