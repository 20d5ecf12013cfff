"""Pieces every route module uses: error documentation, case lookup, paging of child lists."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from sqlalchemy import Connection, Table, select

from casedesk.domain.envelope import ErrorBody
from casedesk.server.caller import Caller, authenticate
from casedesk.server.errors import not_found
from casedesk.server.http import StrictJsonRoute, request_id
from casedesk.server.idempotency import json_response
from casedesk.server.pagination import Position, decode_cursor, encode_cursor, page_meta
from casedesk.server.schema import cases

_DESCRIPTIONS = {
    400: "Validation error: `error.details` names each field path.",
    401: "Missing or invalid API key.",
    403: "The caller's role does not allow this.",
    404: "Not found (a case of another organization is 404 too).",
    409: "State conflict, or the same Idempotency-Key still in flight.",
    412: "`If-Match` names a revision the case is no longer at.",
    413: "Body larger than the limit.",
    415: "Body sent in the wrong media type.",
    422: "Idempotency-Key reused with a different request.",
    429: "Rate limited: wait for `Retry-After`.",
    500: "Internal error.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer (401/429/500 always)."""
    every = sorted({*statuses, 401, 429, 500})
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in every}


def find_case(connection: Connection, caller: Caller, id_or_reference: str) -> dict[str, Any]:
    """A case of the caller's organization by id or reference; 404 otherwise (leak nothing)."""
    column = cases.c.reference if id_or_reference.upper().startswith("CAS-") else cases.c.id
    key = id_or_reference.upper() if column is cases.c.reference else id_or_reference.lower()
    row = connection.execute(
        select(cases).where(column == key, cases.c.organization_id == caller.organization_id)
    ).first()
    if row is None:
        raise not_found("case")
    return dict(row._mapping)


def child_page(
    *,
    request: Request,
    connection: Connection,
    table: Table,
    case_id: str,
    limit: int,
    cursor: str | None,
    to_wire: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Response:
    """One page of a case's messages, escalations, overrides or actions, oldest first."""
    query = select(table).where(table.c.case_id == case_id)
    if cursor is not None:
        after = decode_cursor(cursor, "seq")
        query = query.where(table.c.seq > after.seq)
    rows = [
        dict(row)
        for row in connection.execute(query.order_by(table.c.seq).limit(limit + 1)).mappings()
    ]
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(Position("seq", None, rows[-1]["seq"])) if has_more else None
    body = {"data": to_wire(rows), "meta": page_meta(request_id(request), next_cursor, has_more)}
    return json_response(200, body)


def documented_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=(
                "1..255 printable ASCII characters (a UUID is best). A repeat within 24 h "
                "answers the original response with `Idempotent-Replayed: true`; the same key "
                "with another body is 422; a repeat while the first is running is 409."
            ),
        ),
    ] = None,
) -> None:
    """Declares the header in OpenAPI; `idempotency.read_key` validates and uses it."""


def documented_language(
    accept_language: Annotated[
        str | None,
        Header(alias="Accept-Language", description="`en` (default) or `fr`: error messages."),
    ] = None,
) -> None:
    """Declares the header in OpenAPI; `http.language` reads it."""


CallerDep = Annotated[Caller, Depends(authenticate)]
"""The authenticated caller of a `/v1` route (401 without a valid key)."""


def v1_router(tag: str) -> APIRouter:
    """A `/v1` router: strict JSON bodies, `Accept-Language` documented, one OpenAPI tag."""
    return APIRouter(
        prefix="/v1",
        route_class=StrictJsonRoute,
        dependencies=[Depends(documented_language)],
        tags=[tag],
    )
