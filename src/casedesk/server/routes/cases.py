"""`/v1/cases`: list with filters and cursors, read one, create, and a case's child lists."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Body, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, String, and_, cast, func, literal, or_, select

from casedesk.domain import limits
from casedesk.domain.base import format_timestamp
from casedesk.domain.case import Case
from casedesk.domain.create import NewCase
from casedesk.domain.enums import CaseSort, CaseStatus, RiskTier, SlaStatus
from casedesk.domain.envelope import Envelope
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override
from casedesk.server.caller import Caller
from casedesk.server.directory import OrgDirectory
from casedesk.server.errors import Text, bad_request
from casedesk.server.http import meta, request_id
from casedesk.server.idempotency import canonical_json, json_response, run_once
from casedesk.server.pagination import (
    Position,
    decode_cursor,
    encode_cursor,
    page_limit,
    page_meta,
    parse_since,
)
from casedesk.server.routes.common import (
    CallerDep,
    child_page,
    documented_idempotency_key,
    error_responses,
    find_case,
    v1_router,
)
from casedesk.server.rules.create import create_case
from casedesk.server.schema import actions, cases, documents, escalations, messages, overrides
from casedesk.server.serialize import (
    action_wire,
    case_wire,
    document_ids_of,
    escalation_wire,
    message_wire,
    override_wire,
)
from casedesk.server.state import server_state

router = v1_router("cases")
LimitDep = Annotated[int, Depends(page_limit)]

_SORT_COLUMNS: dict[str, Any] = {
    "reference": cases.c.seq,
    "updated_at": cases.c.updated_at,
    "created_at": cases.c.created_at,
    "sla_deadline": func.coalesce(cases.c.sla_deadline, literal("9999")),
    "risk_score": cases.c.risk_score,
}


def _enum_list(text: str | None, kind: type[Any], name: str) -> list[str] | None:
    """`status=open,in_progress` → the values, 400 naming the parameter for a bad one."""
    if text is None:
        return None
    values = [part.strip() for part in text.split(",") if part.strip()]
    allowed = {member.value for member in kind}
    for value in values:
        if value not in allowed:
            raise bad_request(
                name,
                Text(
                    f"unknown value {value!r}; expected one of {', '.join(sorted(allowed))}",
                    f"valeur inconnue {value!r} ; attendu : {', '.join(sorted(allowed))}",
                ),
            )
    return values


def _sla_condition(wanted: list[str], now: str) -> ColumnElement[bool]:
    """The SQL twin of `domain.sla.sla_status`, so the filter agrees with the field."""
    querying = cases.c.status == CaseStatus.QUERYING.value
    closed = cases.c.status == CaseStatus.CLOSED.value
    deadline = cases.c.sla_deadline
    breached = and_(
        ~querying,
        deadline.is_not(None),
        or_(
            and_(~closed, deadline <= now),
            and_(closed, cases.c.closed_at.is_not(None), cases.c.closed_at >= deadline),
        ),
    )
    at_risk = and_(
        ~querying,
        ~closed,
        deadline > now,
        cases.c.sla_at_risk_at.is_not(None),
        cases.c.sla_at_risk_at <= now,
    )
    by_status: dict[str, ColumnElement[bool]] = {
        SlaStatus.PAUSED.value: querying,
        SlaStatus.BREACHED.value: breached,
        SlaStatus.AT_RISK.value: at_risk,
        SlaStatus.ON_TRACK.value: and_(~querying, ~breached, ~at_risk),
    }
    return or_(*(by_status[value] for value in wanted))


@router.get(
    "/cases",
    response_model=Envelope[list[Case]],
    responses=error_responses(400),
    summary="List cases",
)
def list_cases(
    request: Request,
    caller: CallerDep,
    limit: LimitDep,
    cursor: Annotated[
        str | None, Query(description="Opaque cursor from the previous page.")
    ] = None,
    updated_since: Annotated[
        str | None, Query(description="ISO 8601; cases with updated_at >= this (inclusive).")
    ] = None,
    status: Annotated[str | None, Query(description="Comma-separated statuses.")] = None,
    queue: Annotated[str | None, Query(description="Queue id or name.")] = None,
    assignee: Annotated[str | None, Query(description="`me`, `none` or a user id.")] = None,
    risk_tier: Annotated[str | None, Query(description="Comma-separated risk tiers.")] = None,
    sla_status: Annotated[str | None, Query(description="Comma-separated SLA states.")] = None,
    tag: Annotated[str | None, Query(description="Tag id or label (case-insensitive).")] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=limits.SEARCH_TEXT_MAX, description="Text in name, reference or external id."
        ),
    ] = None,
    sort: Annotated[
        CaseSort, Query(description="Sort order; `-` for descending.")
    ] = CaseSort.REFERENCE,
) -> Response:
    """Cases of the caller's organization, page by page in a stable order."""
    state = server_state(request)
    now = state.clock()
    conditions: list[ColumnElement[bool]] = [cases.c.organization_id == caller.organization_id]
    since = parse_since(updated_since)
    if since is not None:
        conditions.append(cases.c.updated_at >= since)
    statuses = _enum_list(status, CaseStatus, "status")
    if statuses is not None:
        conditions.append(cases.c.status.in_(statuses))
    tiers = _enum_list(risk_tier, RiskTier, "risk_tier")
    if tiers is not None:
        conditions.append(cases.c.risk_tier.in_(tiers))
    sla_states = _enum_list(sla_status, SlaStatus, "sla_status")
    if sla_states:
        conditions.append(_sla_condition(sla_states, format_timestamp(now)))
    if q is not None and q.strip():
        # The text is literal: LIKE's own wildcards in it are escaped.
        literal_text = q.strip().casefold()
        for special in ("\\", "%", "_"):
            literal_text = literal_text.replace(special, "\\" + special)
        needle = f"%{literal_text}%"
        conditions.append(
            or_(
                cases.c.name_key.like(needle, escape="\\"),
                func.lower(cases.c.reference).like(needle, escape="\\"),
                func.lower(func.coalesce(cases.c.external_id, "")).like(needle, escape="\\"),
            )
        )
    with state.database.read() as connection:
        directory = OrgDirectory.load(connection, caller.organization_id)
        if queue is not None:
            wanted = [
                qid
                for qid, row in directory.queues.items()
                if qid == queue or row["name"].casefold() == queue.casefold()
            ]
            conditions.append(cases.c.queue_id.in_(wanted))
        if assignee is not None:
            if assignee == "me":
                conditions.append(cases.c.assignee_id == caller.user_id)
            elif assignee == "none":
                conditions.append(cases.c.assignee_id.is_(None))
            else:
                try:
                    conditions.append(cases.c.assignee_id == str(UUID(assignee)))
                except ValueError:
                    raise bad_request(
                        "assignee",
                        Text(
                            "must be me, none or a user id",
                            "doit valoir me, none ou un identifiant d'utilisateur",
                        ),
                    ) from None
        if tag is not None:
            found = directory.tags.get(tag) or directory.tag_by_label(tag)
            if found is None:
                conditions.append(literal(False))
            else:
                # tag_ids is a JSON list of ids: match the quoted id inside its text.
                conditions.append(cast(cases.c.tag_ids, String).like(f'%"{found["id"]}"%'))
        descending = sort.value.startswith("-")
        sort_name = sort.value.lstrip("-")
        column = _SORT_COLUMNS[sort_name]
        if cursor is not None:
            after = decode_cursor(cursor, sort.value)
            if sort_name == "reference":
                conditions.append(
                    cases.c.seq < after.seq if descending else cases.c.seq > after.seq
                )
            elif descending:
                conditions.append(
                    or_(column < after.value, and_(column == after.value, cases.c.seq < after.seq))
                )
            else:
                conditions.append(
                    or_(column > after.value, and_(column == after.value, cases.c.seq > after.seq))
                )
        order = (
            [column.desc(), cases.c.seq.desc()] if descending else [column.asc(), cases.c.seq.asc()]
        )
        query = (
            select(cases, column.label("_sort_value"))
            .where(*conditions)
            .order_by(*order)
            .limit(limit + 1)
        )
        rows = [dict(row) for row in connection.execute(query).mappings()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        last = rows[-1]
        next_cursor = encode_cursor(Position(sort.value, last["_sort_value"], last["seq"]))
    data = [case_wire(row, directory, now) for row in rows]
    return json_response(
        200, {"data": data, "meta": page_meta(request_id(request), next_cursor, has_more)}
    )


@router.get(
    "/cases/{case_id}",
    response_model=Envelope[Case],
    responses=error_responses(404),
    summary="Read a case",
)
def get_case(request: Request, caller: CallerDep, case_id: str) -> Response:
    """One case, by id or by reference (`CAS-000142`); its revision is also the `ETag`."""
    state = server_state(request)
    with state.database.read() as connection:
        row = find_case(connection, caller, case_id)
        directory = OrgDirectory.load(connection, caller.organization_id)
    body = {"data": case_wire(row, directory, state.clock()), "meta": meta(request)}
    return json_response(200, body, headers={"ETag": f'"{row["revision"]}"'})


@router.post(
    "/cases",
    response_model=Envelope[Case],
    status_code=201,
    dependencies=[Depends(documented_idempotency_key)],
    responses=error_responses(400, 409, 413, 415, 422),
    summary="Create a case",
)
def post_case(request: Request, caller: CallerDep, body: Annotated[NewCase, Body()]) -> Response:
    """Create a case (the Dotfile "Create a case" rules); its log starts with `create`."""
    state = server_state(request)

    def effect(connection: Any) -> tuple[int, dict[str, Any]]:
        directory = OrgDirectory.load(connection, caller.organization_id)
        row = create_case(
            connection=connection, caller=caller, directory=directory, body=body, now=state.clock()
        )
        return 201, {"data": case_wire(row, directory, state.clock()), "meta": meta(request)}

    return run_once(
        request=request,
        database=state.database,
        in_flight=state.in_flight,
        clock=state.clock,
        user_id=caller.user_id,
        canonical_body=canonical_json(body.model_dump(mode="json", exclude_unset=True)),
        effect=effect,
    )


def _documents_for(connection: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = document_ids_of(rows)
    if not wanted:
        return {}
    found = connection.execute(select(documents).where(documents.c.id.in_(wanted))).mappings()
    return {row["id"]: dict(row) for row in found}


def _child_list(
    request: Request, caller: Caller, case_id: str, limit: int, cursor: str | None, kind: str
) -> Response:
    with server_state(request).database.read() as connection:
        case_row = find_case(connection, caller, case_id)
        if kind == "messages":

            def wire(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                attached = _documents_for(connection, rows)
                return [message_wire(row, attached) for row in rows]

            table, to_wire = messages, wire
        else:
            table, row_wire = {
                "escalations": (escalations, escalation_wire),
                "overrides": (overrides, override_wire),
                "actions": (actions, action_wire),
            }[kind]

            def to_wire(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [row_wire(row) for row in rows]

        return child_page(
            request=request,
            connection=connection,
            table=table,
            case_id=case_row["id"],
            limit=limit,
            cursor=cursor,
            to_wire=to_wire,
        )


CursorQuery = Annotated[str | None, Query(description="Opaque cursor from the previous page.")]


@router.get(
    "/cases/{case_id}/messages",
    response_model=Envelope[list[Message]],
    responses=error_responses(400, 404),
)
def list_messages(
    request: Request, caller: CallerDep, case_id: str, limit: LimitDep, cursor: CursorQuery = None
) -> Response:
    """The case's chat, oldest first, with attached documents."""
    return _child_list(request, caller, case_id, limit, cursor, "messages")


@router.get(
    "/cases/{case_id}/escalations",
    response_model=Envelope[list[Escalation]],
    responses=error_responses(400, 404),
)
def list_escalations(
    request: Request, caller: CallerDep, case_id: str, limit: LimitDep, cursor: CursorQuery = None
) -> Response:
    """The case's escalations, active and completed, oldest first."""
    return _child_list(request, caller, case_id, limit, cursor, "escalations")


@router.get(
    "/cases/{case_id}/overrides",
    response_model=Envelope[list[Override]],
    responses=error_responses(400, 404),
)
def list_overrides(
    request: Request, caller: CallerDep, case_id: str, limit: LimitDep, cursor: CursorQuery = None
) -> Response:
    """The case's override requests and their outcomes, oldest first."""
    return _child_list(request, caller, case_id, limit, cursor, "overrides")


@router.get(
    "/cases/{case_id}/actions",
    response_model=Envelope[list[ActionLogEntry]],
    responses=error_responses(400, 404),
)
def list_actions(
    request: Request, caller: CallerDep, case_id: str, limit: LimitDep, cursor: CursorQuery = None
) -> Response:
    """The case's permanent action log, oldest first."""
    return _child_list(request, caller, case_id, limit, cursor, "actions")
