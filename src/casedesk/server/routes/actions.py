"""`POST /v1/cases/{id}/actions`: every change to a case, one `type` per action."""

from typing import Annotated, Any

from fastapi import Body, Depends, Header, Query, Request, Response
from sqlalchemy import Connection, select

from casedesk.domain.actions import CaseAction
from casedesk.domain.enums import Include
from casedesk.domain.envelope import ActionResult, Envelope
from casedesk.server.directory import OrgDirectory
from casedesk.server.errors import Text, bad_request
from casedesk.server.http import meta
from casedesk.server.idempotency import canonical_json, run_once
from casedesk.server.routes.common import (
    CallerDep,
    documented_idempotency_key,
    error_responses,
    find_case,
    v1_router,
)
from casedesk.server.rules.actions import Outcome, apply_action
from casedesk.server.schema import cases, documents, messages, overrides
from casedesk.server.serialize import (
    action_wire,
    case_wire,
    document_wire,
    message_wire,
    override_wire,
    user_wire,
)
from casedesk.server.state import server_state

router = v1_router("actions")


def parse_if_match(raw: str | None) -> int | None:
    """`If-Match: "<revision>"` (quotes optional); 400 naming the header when it is not one."""
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"').strip()
    if not text.isdigit() or len(text) > 18:
        raise bad_request(
            "If-Match",
            Text(
                'must be a case revision in quotes, e.g. "7"',
                'doit être une révision du dossier entre guillemets, p. ex. "7"',
            ),
        )
    return int(text)


def parse_includes(text: str | None) -> list[Include]:
    if not text:
        return []
    found: list[Include] = []
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        try:
            found.append(Include(part))
        except ValueError:
            allowed = ", ".join(member.value for member in Include)
            raise bad_request(
                "include",
                Text(
                    f"unknown value {part!r}; expected some of {allowed}",
                    f"valeur inconnue {part!r} ; attendu : {allowed}",
                ),
            ) from None
    return found


def _included(
    connection: Connection, directory: OrgDirectory, outcome: Outcome, includes: list[Include]
) -> dict[str, Any]:
    """One key per `include=` value; null when the action has no such object."""
    extra: dict[str, Any] = {}
    comment = outcome.comment
    override = outcome.override
    if outcome.replayed:
        payload = outcome.action["payload"]
        if "message_id" in payload:
            found = connection.execute(
                select(messages).where(messages.c.id == payload["message_id"])
            ).first()
            comment = None if found is None else dict(found._mapping)
        if "override_id" in payload:
            found = connection.execute(
                select(overrides).where(overrides.c.id == payload["override_id"])
            ).first()
            override = None if found is None else dict(found._mapping)
    attached: dict[str, Any] = {}
    if comment is not None and comment["document_ids"]:
        rows = connection.execute(
            select(documents).where(documents.c.id.in_(comment["document_ids"]))
        ).mappings()
        attached = {row["id"]: dict(row) for row in rows}
    for include in includes:
        if include is Include.USER:
            actor = directory.users.get(outcome.action["actor_id"] or "")
            extra[include.value] = None if actor is None else user_wire(actor)
        elif include is Include.COMMENT:
            extra[include.value] = None if comment is None else message_wire(comment, attached)
        elif include is Include.COMMENT_DOCUMENTS:
            extra[include.value] = (
                None
                if comment is None
                else [document_wire(attached[i]) for i in comment["document_ids"] if i in attached]
            )
        elif include is Include.OVERRIDE:
            extra[include.value] = None if override is None else override_wire(override)
        elif include is Include.OVERRIDE_ASSIGNED_REVIEWERS:
            extra[include.value] = (
                None
                if override is None
                else [
                    user_wire(directory.users[i])
                    for i in override["reviewer_ids"]
                    if i in directory.users
                ]
            )
    return extra


@router.post(
    "/cases/{case_id}/actions",
    response_model=Envelope[ActionResult],
    response_model_by_alias=True,
    status_code=201,
    dependencies=[Depends(documented_idempotency_key)],
    responses={
        200: {
            "model": Envelope[ActionResult],
            "description": "Replay: this `client_action_id` was already applied; nothing changed.",
        },
        **error_responses(400, 403, 404, 409, 412, 413, 415, 422),
    },
    summary="Perform an action on a case",
)
def post_action(
    request: Request,
    caller: CallerDep,
    case_id: str,
    action: Annotated[CaseAction, Body()],
    include: Annotated[
        str | None,
        Query(description="Comma-separated: " + ", ".join(member.value for member in Include)),
    ] = None,
    if_match_header: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='`"<revision>"`: 412 when the case is no longer at that revision.',
        ),
    ] = None,
) -> Response:
    """Apply one action; it is appended to the permanent action log and bumps `revision`."""
    state = server_state(request)
    includes = parse_includes(include)
    if_match = parse_if_match(if_match_header)

    def effect(connection: Connection) -> tuple[int, dict[str, Any]]:
        case_row = find_case(connection, caller, case_id)
        directory = OrgDirectory.load(connection, caller.organization_id)
        now = state.clock()
        outcome = apply_action(
            connection=connection,
            caller=caller,
            directory=directory,
            case=case_row,
            action=action,
            now=now,
            if_match=if_match,
        )
        after = (
            connection.execute(select(cases).where(cases.c.id == case_row["id"])).mappings().one()
        )
        data = {
            "action": action_wire(outcome.action),
            "case": case_wire(dict(after), directory, now),
            **_included(connection, directory, outcome, includes),
        }
        return (200 if outcome.replayed else 201), {"data": data, "meta": meta(request)}

    return run_once(
        request=request,
        database=state.database,
        in_flight=state.in_flight,
        clock=state.clock,
        user_id=caller.user_id,
        canonical_body=canonical_json(action.model_dump(mode="json")),
        effect=effect,
    )
