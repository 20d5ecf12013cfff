"""Users, organizations, queues: who works cases and where cases wait."""

from uuid import UUID

from pydantic import Field

from casedesk.domain.base import WireModel
from casedesk.domain.enums import Role


class User(WireModel):
    """A person who works cases, as `GET /v1/me` and `GET /v1/users` show them."""

    id: UUID
    name: str
    email: str
    roles: list[Role]
    organization_id: UUID


class Queue(WireModel):
    """Where cases wait, with the SLA policy that sets their deadlines."""

    id: UUID
    name: str
    workflow: str
    sla_hours: float = Field(gt=0)
