"""Idempotency-Key, client_action_id and If-Match: an action is applied once, or not at all."""

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from casedesk.domain import limits

Json = dict[str, Any]
CONCURRENT_REQUESTS = 50


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


def new_case(client: httpx.Client) -> Json:
    payload = {"name": f"Idempotency case {uuid.uuid4().hex[:8]}"}
    case: Json = body_of(client.post("/v1/cases", json=payload), 201)["data"]
    return case


def act(
    client: httpx.Client, case_id: str, action: Json, headers: dict[str, Any] | None = None
) -> httpx.Response:
    return client.post(f"/v1/cases/{case_id}/actions", json=action, headers=headers)


def keyed(key: str | bytes) -> dict[str, Any]:
    return {"Idempotency-Key": key}


def children(client: httpx.Client, case_id: str, child: str) -> list[Json]:
    url = f"/v1/cases/{case_id}/{child}"
    items: list[Json] = body_of(client.get(url, params={"limit": limits.PAGE_LIMIT_MAX}), 200)[
        "data"
    ]
    return items


def revision(client: httpx.Client, case_id: str) -> int:
    return int(body_of(client.get(f"/v1/cases/{case_id}"), 200)["data"]["revision"])


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviewer(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("reviewer")) as client:
        yield client


@pytest.fixture(scope="module")
def contributor(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client(live_server.key("contributor")) as client:
        yield client


@pytest.fixture
def case(reviewer: httpx.Client) -> Json:
    return new_case(reviewer)


# -- Idempotency-Key -----------------------------------------------------------------


def test_a_replayed_action_returns_the_original_response_and_applies_once(
    reviewer: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    action = {"type": "comment", "body": "Sent twice over a flaky network"}
    first = act(reviewer, case["id"], action, keyed(key))
    replays = [act(reviewer, case["id"], action, keyed(key)) for _ in range(3)]
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    for replay in replays:
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.content == first.content
    assert [m["body"] for m in children(reviewer, case["id"], "messages")] == [action["body"]]
    assert [e["type"] for e in children(reviewer, case["id"], "actions")] == ["create", "comment"]
    assert revision(reviewer, case["id"]) == 2


def test_key_order_and_spacing_of_the_body_do_not_make_another_request(
    reviewer: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    url = f"/v1/cases/{case['id']}/actions"
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    first = reviewer.post(url, content=b'{"type": "escalate", "reason": "x"}', headers=headers)
    again = reviewer.post(url, content=b'{"reason":"x","type":"escalate"}', headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(children(reviewer, case["id"], "escalations")) == 1


def test_a_replayed_case_creation_creates_one_case(reviewer: httpx.Client) -> None:
    key = str(uuid.uuid4())
    name = f"Created once {uuid.uuid4().hex}"
    first = reviewer.post("/v1/cases", json={"name": name}, headers=keyed(key))
    again = reviewer.post("/v1/cases", json={"name": name}, headers=keyed(key))
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    found = body_of(reviewer.get("/v1/cases", params={"q": name}), 200)["data"]
    assert [c["id"] for c in found] == [first.json()["data"]["id"]]


def test_a_replayed_upload_stores_one_document(reviewer: httpx.Client) -> None:
    key = str(uuid.uuid4())
    files = {"file": ("statement.txt", b"balance: 42", "text/plain")}
    first = reviewer.post("/v1/documents", files=files, headers=keyed(key))
    again = reviewer.post("/v1/documents", files=files, headers=keyed(key))
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]


def test_the_same_key_with_another_body_is_422_and_applies_nothing(
    reviewer: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    body_of(act(reviewer, case["id"], {"type": "comment", "body": "first"}, keyed(key)), 201)
    error = error_of(
        act(reviewer, case["id"], {"type": "comment", "body": "other"}, keyed(key)), 422
    )
    assert error["code"] == "idempotency_key_reused"
    assert [m["body"] for m in children(reviewer, case["id"], "messages")] == ["first"]


def test_the_same_key_on_another_case_is_422(reviewer: httpx.Client, case: Json) -> None:
    key = str(uuid.uuid4())
    action = {"type": "comment", "body": "same words"}
    body_of(act(reviewer, case["id"], action, keyed(key)), 201)
    other = new_case(reviewer)
    assert error_of(act(reviewer, other["id"], action, keyed(key)), 422)["code"] == (
        "idempotency_key_reused"
    )
    assert children(reviewer, other["id"], "messages") == []


def test_a_key_belongs_to_its_caller(
    reviewer: httpx.Client, contributor: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    action = {"type": "comment", "body": "Same key, two people"}
    mine = act(reviewer, case["id"], action, keyed(key))
    theirs = act(contributor, case["id"], action, keyed(key))
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["data"]["action"]["id"] != mine.json()["data"]["action"]["id"]
    assert theirs.json()["data"]["action"]["actor_id"] != mine.json()["data"]["action"]["actor_id"]
    other_body = act(contributor, case["id"], {"type": "escalate", "reason": "x"}, keyed(key))
    assert error_of(other_body, 422)["code"] == "idempotency_key_reused"
    assert len(children(reviewer, case["id"], "messages")) == 2


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * (limits.IDEMPOTENCY_KEY_MAX + 1),
        "tab\there",
        "caf\xe9".encode("latin-1"),
        '""',
    ],
    ids=["empty", "too-long", "control-character", "non-ascii", "empty-quoted"],
)
def test_a_malformed_key_is_400_naming_the_header_and_applies_nothing(
    reviewer: httpx.Client, case: Json, key: str | bytes
) -> None:
    response = act(reviewer, case["id"], {"type": "comment", "body": "x"}, keyed(key))
    error = error_of(response, 400)
    assert [detail["path"] for detail in error["details"]] == ["Idempotency-Key"]
    assert children(reviewer, case["id"], "messages") == []


def test_a_key_of_the_maximum_length_of_printable_characters_is_accepted(
    reviewer: httpx.Client, case: Json
) -> None:
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    key = (printable * 3)[: limits.IDEMPOTENCY_KEY_MAX]
    action = {"type": "comment", "body": "long key"}
    assert act(reviewer, case["id"], action, keyed(key)).status_code == 201
    again = act(reviewer, case["id"], action, keyed(key))
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_quoted_key_is_accepted(reviewer: httpx.Client, case: Json) -> None:
    key = f'"{uuid.uuid4()}"'
    action = {"type": "comment", "body": "quoted key"}
    assert act(reviewer, case["id"], action, keyed(key)).status_code == 201
    again = act(reviewer, case["id"], action, keyed(key))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(children(reviewer, case["id"], "messages")) == 1


def test_fifty_concurrent_requests_with_one_key_apply_once(
    live_server: Any, reviewer: httpx.Client, case: Json
) -> None:
    key = str(uuid.uuid4())
    action = {"type": "comment", "body": "pressed send fifty times"}
    start = threading.Barrier(CONCURRENT_REQUESTS)
    api_key = live_server.key("reviewer")

    def send(_: int) -> httpx.Response:
        with live_server.client(api_key) as client:
            start.wait()
            return act(client, case["id"], action, keyed(key))

    with ThreadPoolExecutor(CONCURRENT_REQUESTS) as pool:
        answers = list(pool.map(send, range(CONCURRENT_REQUESTS)))
    kinds = Counter(
        (r.status_code, r.headers.get("Idempotent-Replayed"), r.json().get("error", {}).get("code"))
        for r in answers
    )
    assert set(kinds) <= {
        (201, None, None),
        (201, "true", None),
        (409, None, "idempotency_in_flight"),
    }
    assert kinds[(201, None, None)] == 1, kinds
    originals = {r.content for r in answers if r.status_code == 201}
    assert len(originals) == 1, "every 201 carries the one original response"
    for busy in (r for r in answers if r.status_code == 409):
        assert busy.headers.get("Retry-After")
    messages = children(reviewer, case["id"], "messages")
    assert [m["body"] for m in messages] == [action["body"]]
    assert revision(reviewer, case["id"]) == 2


# -- client_action_id ----------------------------------------------------------------


def test_a_repeated_client_action_id_returns_the_recorded_action(
    reviewer: httpx.Client, case: Json
) -> None:
    action = {
        "type": "escalate",
        "reason": "sent again after the key expired",
        "client_action_id": str(uuid.uuid4()),
    }
    first = body_of(act(reviewer, case["id"], action, keyed(str(uuid.uuid4()))), 201)["data"]
    again = body_of(act(reviewer, case["id"], action, keyed(str(uuid.uuid4()))), 200)["data"]
    assert again["action"] == first["action"]
    assert again["case"]["revision"] == first["case"]["revision"]
    assert len(children(reviewer, case["id"], "actions")) == 2
    assert len(children(reviewer, case["id"], "escalations")) == 1


def test_a_client_action_id_reused_for_another_action_is_409(
    reviewer: httpx.Client, case: Json
) -> None:
    client_action_id = str(uuid.uuid4())
    comment = {"type": "comment", "body": "original", "client_action_id": client_action_id}
    body_of(act(reviewer, case["id"], comment), 201)
    for other in (
        {**comment, "body": "edited"},
        {"type": "escalate", "reason": "original", "client_action_id": client_action_id},
    ):
        error = error_of(act(reviewer, case["id"], other), 409)
        assert error["code"] == "client_action_id_reused"
    assert [m["body"] for m in children(reviewer, case["id"], "messages")] == ["original"]
    assert revision(reviewer, case["id"]) == 2


def test_a_client_action_id_another_user_sends_again_is_409_not_their_action(
    reviewer: httpx.Client, contributor: httpx.Client, case: Json
) -> None:
    comment = {"type": "comment", "body": "mine", "client_action_id": str(uuid.uuid4())}
    body_of(act(reviewer, case["id"], comment), 201)
    error = error_of(act(contributor, case["id"], comment), 409)
    assert error["code"] == "client_action_id_reused"
    assert [m["body"] for m in children(reviewer, case["id"], "messages")] == ["mine"]


def test_a_client_action_id_is_unique_per_case_only(reviewer: httpx.Client, case: Json) -> None:
    action = {
        "type": "comment",
        "body": "same id, two cases",
        "client_action_id": str(uuid.uuid4()),
    }
    other = new_case(reviewer)
    body_of(act(reviewer, case["id"], action), 201)
    body_of(act(reviewer, other["id"], action), 201)


def test_concurrent_repeats_of_one_client_action_id_apply_once(
    live_server: Any, reviewer: httpx.Client, case: Json
) -> None:
    action = {
        "type": "comment",
        "body": "retried by many workers",
        "client_action_id": str(uuid.uuid4()),
    }
    start = threading.Barrier(10)
    api_key = live_server.key("reviewer")

    def send(_: int) -> int:
        with live_server.client(api_key) as client:
            start.wait()
            return act(client, case["id"], action).status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = Counter(pool.map(send, range(10)))
    assert statuses == {201: 1, 200: 9}
    assert len(children(reviewer, case["id"], "messages")) == 1


# -- If-Match ------------------------------------------------------------------------


def test_if_match_with_a_stale_revision_is_412_with_the_current_revision(
    reviewer: httpx.Client, case: Json
) -> None:
    body_of(act(reviewer, case["id"], {"type": "comment", "body": "meanwhile"}), 201)
    close = {"type": "close", "decision": "approve"}
    error = error_of(act(reviewer, case["id"], close, {"If-Match": '"1"'}), 412)
    assert error["code"] == "stale_revision"
    assert error["data"]["revision"] == 2
    got = body_of(reviewer.get(f"/v1/cases/{case['id']}"), 200)
    assert got["data"]["status"] == "open"
    assert got["data"]["revision"] == 2


def test_if_match_with_the_current_revision_applies_the_action(
    reviewer: httpx.Client, case: Json
) -> None:
    etag = reviewer.get(f"/v1/cases/{case['id']}").headers["ETag"]
    assert etag == '"1"'
    close = {"type": "close", "decision": "reject"}
    data = body_of(act(reviewer, case["id"], close, {"If-Match": etag}), 201)["data"]
    assert data["case"]["status"] == "closed"
    assert data["case"]["revision"] == 2


@pytest.mark.parametrize("value", ["latest", '"-1"', '"1.0"', '"' + "9" * 40 + '"'])
def test_a_malformed_if_match_is_400_naming_the_header(
    reviewer: httpx.Client, case: Json, value: str
) -> None:
    error = error_of(
        act(reviewer, case["id"], {"type": "comment", "body": "x"}, {"If-Match": value}), 400
    )
    assert [detail["path"] for detail in error["details"]] == ["If-Match"]
    assert children(reviewer, case["id"], "messages") == []
