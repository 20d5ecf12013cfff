"""Who is calling: the user behind the API key, their organization and roles."""

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from casedesk.domain.enums import Role
from casedesk.server.errors import ApiError
from casedesk.server.keys import hash_api_key
from casedesk.server.schema import api_keys, organizations, users
from casedesk.server.state import server_state


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request."""

    user_id: str
    name: str
    email: str
    roles: frozenset[Role]
    organization_id: str
    organization_name: str

    def has(self, role: Role) -> bool:
        return role in self.roles


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(request: Request) -> Caller:
    """The FastAPI dependency behind every `/v1` route: 401 without a valid key."""
    key = _presented_key(request)
    if key is None:
        raise ApiError(401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
    database = server_state(request).database
    with database.read() as connection:
        row = connection.execute(
            select(
                users.c.id,
                users.c.name,
                users.c.email,
                users.c.roles,
                users.c.organization_id,
                organizations.c.name.label("organization_name"),
            )
            .select_from(api_keys.join(users).join(organizations))
            .where(api_keys.c.key_hash == hash_api_key(key))
        ).first()
    if row is None:
        raise ApiError(401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
    caller = Caller(
        user_id=row.id,
        name=row.name,
        email=row.email,
        roles=frozenset(Role(role) for role in row.roles),
        organization_id=row.organization_id,
        organization_name=row.organization_name,
    )
    request.state.caller = caller
    return caller
