"""`GET /v1/me`, `/v1/users`, `/v1/queues`: who the caller is, and who and where else."""

from fastapi import Request, Response

from casedesk.domain.envelope import Envelope
from casedesk.domain.people import Queue, User
from casedesk.server.directory import OrgDirectory
from casedesk.server.http import meta, request_id
from casedesk.server.idempotency import json_response
from casedesk.server.pagination import page_meta
from casedesk.server.routes.common import CallerDep, error_responses, v1_router
from casedesk.server.serialize import queue_wire, user_wire
from casedesk.server.state import server_state

router = v1_router("organization")


@router.get("/me", response_model=Envelope[User], responses=error_responses())
def get_me(request: Request, caller: CallerDep) -> Response:
    """The user behind the API key."""
    with server_state(request).database.read() as connection:
        directory = OrgDirectory.load(connection, caller.organization_id)
    return json_response(
        200, {"data": user_wire(directory.users[caller.user_id]), "meta": meta(request)}
    )


@router.get("/users", response_model=Envelope[list[User]], responses=error_responses())
def list_users(request: Request, caller: CallerDep) -> Response:
    """The assignable users of the caller's organization."""
    with server_state(request).database.read() as connection:
        directory = OrgDirectory.load(connection, caller.organization_id)
    people = [user_wire(row) for row in directory.users.values() if row["assignable"]]
    return json_response(200, {"data": people, "meta": page_meta(request_id(request), None, False)})


@router.get("/queues", response_model=Envelope[list[Queue]], responses=error_responses())
def list_queues(request: Request, caller: CallerDep) -> Response:
    """The organization's queues with their SLA policies."""
    with server_state(request).database.read() as connection:
        directory = OrgDirectory.load(connection, caller.organization_id)
    queue_list = [queue_wire(row) for row in directory.queues.values()]
    return json_response(
        200, {"data": queue_list, "meta": page_meta(request_id(request), None, False)}
    )
