"""An organization's people, queues and tags, loaded once per request for lookups."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from casedesk.domain.enums import Role
from casedesk.server.schema import queues, tags, users


@dataclass(frozen=True)
class OrgDirectory:
    """Lookups by id for one organization (a few dozen rows: cheap to load)."""

    organization_id: str
    users: dict[str, dict[str, Any]]
    queues: dict[str, dict[str, Any]]
    tags: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, connection: Connection, organization_id: str) -> "OrgDirectory":
        user_rows = connection.execute(
            select(users).where(users.c.organization_id == organization_id).order_by(users.c.name)
        ).mappings()
        queue_rows = connection.execute(
            select(queues)
            .where(queues.c.organization_id == organization_id)
            .order_by(queues.c.position, queues.c.name)
        ).mappings()
        tag_rows = connection.execute(
            select(tags).where(tags.c.organization_id == organization_id).order_by(tags.c.label)
        ).mappings()
        return cls(
            organization_id=organization_id,
            users={row["id"]: dict(row) for row in user_rows},
            queues={row["id"]: dict(row) for row in queue_rows},
            tags={row["id"]: dict(row) for row in tag_rows},
        )

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.strip().casefold()
        for user in self.users.values():
            if user["email"].casefold() == wanted and user["assignable"]:
                return user
        return None

    def is_reviewer(self, user_id: str) -> bool:
        user = self.users.get(user_id)
        return user is not None and Role.REVIEWER.value in user["roles"]

    def tag_by_label(self, label: str) -> dict[str, Any] | None:
        wanted = label.casefold()
        for tag in self.tags.values():
            if tag["label_key"] == wanted:
                return tag
        return None
