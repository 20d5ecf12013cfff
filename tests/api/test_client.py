"""The client's requests and how it reads answers.

The transport is mocked (`httpx.MockTransport`) because most answers here are
faults injected on purpose: schema-invalid 200s, HTML pages, redirects,
oversized bodies. The same calls against the real server are in
`test_client_live.py`; real-socket faults in `test_faults_on_sockets.py`.
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from casedesk.api.errors import (
    ApiStatusError,
    Conflict,
    FieldError,
    Forbidden,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidResponse,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    StaleRevision,
    Unauthorized,
)
from casedesk.api.pages import collect
from casedesk.api.retry import RetryPolicy
from casedesk.api.secret import ApiKey
from casedesk.domain.actions import (
    AssignAction,
    CommentAction,
    EscalationUpdate,
    UpdateEscalationAction,
)
from casedesk.domain.create import NewCase
from casedesk.domain.enums import ActionType, CaseSort, CaseStatus, Include, RiskTier
from casedesk.domain.sanitize import REPLACEMENT

from . import wire
from .conftest import KEY, MakeClient


def answer(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


# -- reading ---------------------------------------------------------------------


async def test_me_sends_the_key_in_its_header_and_never_in_the_url(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, wire.ok(wire.user()))

    client = make_client(handler, language="fr")
    me = await client.me()

    assert me.name == "Ada Reviewer"
    (request,) = seen
    assert request.headers["X-API-KEY"] == KEY
    assert request.headers["Accept-Language"] == "fr"
    assert KEY not in str(request.url)
    assert str(request.url) == "https://cases.example.com/v1/me"


async def test_list_cases_sends_filters_and_returns_a_page(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = {"cursor": "c2", "has_more": True}
        return answer(200, wire.ok([wire.case(1), wire.case(2)], page=page))

    client = make_client(handler)
    since = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    page = await client.list_cases(
        status=[CaseStatus.OPEN, CaseStatus.IN_PROGRESS],
        risk_tier=RiskTier.HIGH,
        assignee="me",
        sort=CaseSort.UPDATED_AT_DESC,
        updated_since=since,
        limit=2,
        cursor="c1",
    )

    assert [case.reference for case in page.items] == ["CAS-000001", "CAS-000002"]
    assert (page.cursor, page.has_more, page.request_id) == ("c2", True, "req_ok")
    assert dict(seen[0].url.params) == {
        "status": "open,in_progress",
        "risk_tier": "high",
        "assignee": "me",
        "sort": "-updated_at",
        "updated_since": "2025-06-01T10:00:00.000000Z",
        "limit": "2",
        "cursor": "c1",
    }


async def test_a_naive_updated_since_is_refused_before_sending(make_client: MakeClient) -> None:
    client = make_client(lambda request: pytest.fail("nothing should be sent"))
    with pytest.raises(ValueError, match="time zone"):
        await client.list_cases(updated_since=datetime(2025, 6, 1))


async def test_iter_cases_follows_cursors_page_by_page(make_client: MakeClient) -> None:
    pages = {
        None: ([wire.case(1), wire.case(2)], "p2", True),
        "p2": ([wire.case(3), wire.case(4)], "p3", True),
        "p3": ([wire.case(5)], None, False),
    }
    cursors: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        cursors.append(cursor)
        items, following, more = pages[cursor]
        return answer(200, wire.ok(items, page={"cursor": following, "has_more": more}))

    client = make_client(handler)
    sizes = [len(page) async for page in client.iter_cases(limit=2)]

    assert sizes == [2, 2, 1]
    assert cursors == [None, "p2", "p3"]


@pytest.mark.parametrize(("cursor", "complaint"), [(None, "no cursor"), ("same", "already given")])
async def test_a_page_that_promises_more_without_a_new_cursor_is_an_error(
    make_client: MakeClient, cursor: str | None, complaint: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer(200, wire.ok([wire.case(1)], page={"cursor": cursor, "has_more": True}))

    client = make_client(handler)
    with pytest.raises(InvalidResponse, match=complaint):
        await collect(client.iter_cases(cursor="same" if cursor else None))


async def test_fetch_all_helpers_walk_child_listings_with_the_largest_page(
    make_client: MakeClient,
) -> None:
    limits_seen: set[str | None] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        limits_seen.add(request.url.params.get("limit"))
        assert request.url.path == "/v1/cases/CAS-000001/messages"
        if request.url.params.get("cursor") is None:
            return answer(200, wire.ok([wire.message(1)], page={"cursor": "n", "has_more": True}))
        return answer(200, wire.ok([wire.message(2)], page={"cursor": None, "has_more": False}))

    client = make_client(handler)
    chat = await client.all_messages("CAS-000001")

    assert [m.body for m in chat] == ["message 1", "message 2"]
    assert limits_seen == {"200"}


async def test_a_list_without_page_meta_is_not_the_documented_shape(
    make_client: MakeClient,
) -> None:
    client = make_client(lambda request: answer(200, wire.ok([wire.user()])))
    with pytest.raises(InvalidResponse, match=r"meta\.page"):
        await client.users()


async def test_ids_and_references_cannot_escape_their_path_segment(
    make_client: MakeClient,
) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return answer(200, wire.ok(wire.case()))

    client = make_client(handler)
    await client.get_case("../me?x=1")
    await client.get_case(UUID(int=1))

    assert paths == [
        "/v1/cases/..%2Fme%3Fx%3D1",
        "/v1/cases/00000000-0000-0000-0000-000000000001",
    ]
    with pytest.raises(ValueError):
        await client.get_case("..")


async def test_untrusted_text_is_sanitised_before_it_is_returned(make_client: MakeClient) -> None:
    hostile = wire.case(
        name="Acme\x1b]52;c;bWFsd2FyZQ==\x07 Ltd\u202e",
        metadata={"note\x1b": "line\r\nbreak"},
    )
    client = make_client(lambda request: answer(200, wire.ok(hostile)))

    case = await client.get_case("CAS-000001")

    assert case.name == f"Acme{REPLACEMENT}]52;c;bWFsd2FyZQ=={REPLACEMENT} Ltd{REPLACEMENT}"
    assert case.metadata == {f"note{REPLACEMENT}": "line\nbreak"}


async def test_lone_surrogate_escapes_in_json_are_replaced_not_fatal(
    make_client: MakeClient,
) -> None:
    body = json.dumps(wire.ok(wire.user())).replace("Ada Reviewer", "Ada \\ud800")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    assert (await make_client(handler).me()).name == f"Ada {REPLACEMENT}"


# -- answers that are not the documented shape ------------------------------------


async def test_a_schema_invalid_200_is_an_error_naming_the_field_and_is_not_retried(
    make_client: MakeClient,
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return answer(200, wire.ok(wire.case(reference="not-a-reference", risk_score=900)))

    with pytest.raises(InvalidResponse) as caught:
        await make_client(handler).get_case("CAS-000001")

    assert "data.reference" in caught.value.message
    assert "data.risk_score" in caught.value.message
    assert "not-a-reference" not in caught.value.message  # values are never echoed
    assert caught.value.status == 200
    assert calls == 1


@pytest.mark.parametrize(
    ("content", "content_type", "complaint"),
    [
        (b'{"data": {"id": ', "application/json", "not valid JSON"),
        (b"<html><h1>Welcome</h1></html>", "text/html", "text/html, not application/json"),
        (b"", "", "no content type"),
        (b'{"data": 1, "meta": {"request_id": "r", "extra": 1}}', "application/json", "meta"),
    ],
)
async def test_answers_that_are_not_json_envelopes_are_invalid_responses(
    make_client: MakeClient, content: bytes, content_type: str, complaint: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return httpx.Response(200, content=content, headers=headers)

    with pytest.raises(InvalidResponse, match=complaint):
        await make_client(handler).me()


async def test_an_html_502_from_a_gateway_is_invalid_but_transient_and_retried(
    make_client: MakeClient,
) -> None:
    statuses = [502, 502, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0)
        if status == 502:
            return httpx.Response(
                502, text="<h1>Bad Gateway</h1>", headers={"content-type": "text/html"}
            )
        return answer(200, wire.ok(wire.user()))

    assert (await make_client(handler).me()).email == "ada@example.com"
    assert statuses == []


async def test_an_html_502_that_persists_surfaces_as_invalid_response(
    make_client: MakeClient,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, text="<h1>Bad Gateway</h1>", headers={"content-type": "text/html"}
        )

    with pytest.raises(InvalidResponse) as caught:
        await make_client(handler).me()
    assert caught.value.status == 502
    assert "text/html" in caught.value.message


async def test_a_body_over_the_cap_is_refused_from_its_declared_length(
    make_client: MakeClient,
) -> None:
    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            raise AssertionError("the body must not be read")
            yield b""

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-length": str(50 * 1024 * 1024)}
        return httpx.Response(200, headers=headers, stream=Endless())

    with pytest.raises(InvalidResponse, match="was not read"):
        await make_client(handler).me()


async def test_a_streamed_body_over_the_cap_is_cut_off_while_reading(
    make_client: MakeClient,
) -> None:
    produced = 0

    class Chunks(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            nonlocal produced
            for _ in range(1000):
                produced += 1
                yield b"x" * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=Chunks())

    with pytest.raises(InvalidResponse, match="reading stopped"):
        await make_client(handler, max_json_bytes=10 * 1024).me()
    assert produced <= 11


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("https://evil.example.net/v1/me", "https://evil.example.net"),
        ("http://cases.example.com/v1/me", "http://cases.example.com"),
        ("/v2/me", "/v2/me on the same origin"),
    ],
)
async def test_redirects_are_never_followed(
    make_client: MakeClient, location: str, named: str
) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": location})

    with pytest.raises(InvalidResponse) as caught:
        await make_client(handler).me()

    assert seen == ["https://cases.example.com/v1/me"]
    assert named in caught.value.message
    assert "redirects are not followed" in caught.value.message


# -- errors the API documents ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (412, StaleRevision),
        (413, PayloadTooLarge),
        (422, IdempotencyMismatch),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
        (418, ApiStatusError),
    ],
)
async def test_each_status_raises_its_own_class_with_the_servers_words(
    make_client: MakeClient, status: int, cls: type[ApiStatusError]
) -> None:
    body = wire.failure(
        "some_code",
        "Le dossier a changé : rechargez-le.",
        details=[{"path": "escalations.0.escalation_id", "message": "unknown escalation"}],
        data={"escalations": [{"id": "e1", "title": "KYB\x1b[2J"}]},
    )
    client = make_client(lambda request: answer(status, body), retry=RetryPolicy.never())

    with pytest.raises(cls) as caught:
        await client.get_case("CAS-000001")

    error = caught.value
    assert type(error) is cls
    assert error.status == status
    assert error.code == "some_code"
    assert error.message == "Le dossier a changé : rechargez-le."
    assert error.details == [FieldError("escalations.0.escalation_id", "unknown escalation")]
    assert error.data == {"escalations": [{"id": "e1", "title": f"KYB{REPLACEMENT}[2J"}]}
    assert error.request_id == "req_err"
    assert error.url == "https://cases.example.com/v1/cases/CAS-000001"


async def test_an_error_body_that_is_not_the_documented_shape_is_an_invalid_response(
    make_client: MakeClient,
) -> None:
    client = make_client(lambda request: answer(404, {"detail": "Not Found"}))
    with pytest.raises(InvalidResponse) as caught:
        await client.me()
    assert caught.value.status == 404
    assert "error shape" in caught.value.message


# -- writing -----------------------------------------------------------------------


async def test_act_posts_the_action_body_with_key_revision_and_includes(
    make_client: MakeClient,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result = {
            "action": wire.action_entry(),
            "case": wire.case(revision=2),
            "comment": wire.message(9, body="hello"),
        }
        return answer(201, wire.ok(result))

    action = CommentAction(type=ActionType.COMMENT, body="hello")
    result = await make_client(handler).act(
        "CAS-000001",
        action,
        idempotency_key="key-1",
        if_match=1,
        include=[Include.COMMENT, Include.USER],
    )

    assert result.case.revision == 2
    assert result.comment is not None and result.comment.body == "hello"
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/v1/cases/CAS-000001/actions"
    assert request.url.params["include"] == "comment,user"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.headers["If-Match"] == '"1"'
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"type": "comment", "body": "hello"}


async def test_act_keeps_an_explicit_null_and_omits_what_was_not_set(
    make_client: MakeClient,
) -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answer(201, wire.ok({"action": wire.action_entry(), "case": wire.case()}))

    client = make_client(handler)
    await client.act(
        "c", AssignAction(type=ActionType.ASSIGN, assignee_id=None), idempotency_key="a"
    )
    update = UpdateEscalationAction(
        type=ActionType.UPDATE_ESCALATION,
        escalations=[EscalationUpdate(escalation_id=UUID(int=3), note="checked")],
    )
    await client.act("c", update, idempotency_key="b")

    assert bodies == [
        {"type": "assign", "assignee_id": None},
        {
            "type": "update_escalation",
            "escalations": [
                {"escalation_id": "00000000-0000-0000-0000-000000000003", "note": "checked"}
            ],
        },
    ]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_an_idempotency_key_the_api_would_refuse_is_refused_here(
    make_client: MakeClient, key: str
) -> None:
    client = make_client(lambda request: pytest.fail("nothing should be sent"))
    with pytest.raises(ValueError, match="Idempotency-Key"):
        await client.act("c", CommentAction(type=ActionType.COMMENT, body="x"), idempotency_key=key)


async def test_create_case_posts_the_new_case(make_client: MakeClient) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(201, wire.ok(wire.case(7, name="New Co")))

    case = await make_client(handler).create_case(NewCase(name="New Co"), "create-1")

    assert case.reference == "CAS-000007"
    assert seen[0].url.path == "/v1/cases"
    assert json.loads(seen[0].content) == {"name": "New Co"}
    assert seen[0].headers["Idempotency-Key"] == "create-1"


async def test_upload_sends_a_multipart_file_and_returns_the_document(
    make_client: MakeClient, tmp_path: Path
) -> None:
    source = tmp_path / "passport.pdf"
    source.write_bytes(b"%PDF")
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
        return answer(201, wire.ok(wire.document(size=4)))

    client = make_client(handler)
    document = await client.upload_document(source, idempotency_key="up-1")
    await client.upload_document(b"%PDF", name="passport.pdf", idempotency_key="up-1")

    assert document.size == 4
    assert b'name="file"; filename="passport.pdf"' in bodies[0]
    assert b"Content-Type: application/pdf" in bodies[0]
    # The same key gives the same bytes, so a replay after a restart is recognised.
    assert bodies[0] == bodies[1]


async def test_document_content_returns_the_raw_bytes(make_client: MakeClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v1/documents/{UUID(int=7000)}/content"
        return httpx.Response(200, content=b"\x00\x01binary", headers={"content-type": "image/png"})

    assert await make_client(handler).document_content(UUID(int=7000)) == b"\x00\x01binary"


async def test_the_client_refuses_a_plain_string_key_and_odd_urls() -> None:
    from casedesk.api.client import CaseApiClient

    with pytest.raises(TypeError):
        CaseApiClient("https://x.example", KEY)  # type: ignore[arg-type]
    for url in ["ftp://x.example", "https://user:pw@x.example", "https://x.example/?a=1", "x"]:
        with pytest.raises(ValueError):
            CaseApiClient(url, ApiKey(KEY))


async def test_the_client_repr_names_only_the_origin(make_client: MakeClient) -> None:
    client = make_client(lambda request: answer(200, {}))
    assert repr(client) == "CaseApiClient('https://cases.example.com')"
    assert client.origin == "https://cases.example.com"
