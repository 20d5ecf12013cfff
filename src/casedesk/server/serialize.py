"""Rows of the database as the wire shapes of `casedesk.domain` (validated on the way out)."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from casedesk.domain.case import Case
from casedesk.domain.enums import CaseStatus
from casedesk.domain.people import Queue, User
from casedesk.domain.records import ActionLogEntry, Document, Escalation, Message, Override
from casedesk.domain.sla import sla_status
from casedesk.server.directory import OrgDirectory

Row = Mapping[str, Any]


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def user_wire(row: Row) -> dict[str, Any]:
    return User(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        roles=row["roles"],
        organization_id=row["organization_id"],
    ).model_dump(mode="json")


def queue_wire(row: Row) -> dict[str, Any]:
    return Queue(
        id=row["id"], name=row["name"], workflow=row["workflow"], sla_hours=row["sla_hours"]
    ).model_dump(mode="json")


def case_wire(row: Row, directory: OrgDirectory, now: datetime) -> dict[str, Any]:
    """The case object of the API for one `cases` row."""
    queue = directory.queues[row["queue_id"]]
    assignee = directory.users.get(row["assignee_id"]) if row["assignee_id"] else None
    status = CaseStatus(row["status"])
    wire = {
        "id": row["id"],
        "reference": row["reference"],
        "name": row["name"],
        "type": row["type"],
        "status": status,
        "decision": row["decision"],
        "entity_category": row["entity_category"],
        "queue": {"id": queue["id"], "name": queue["name"], "workflow": queue["workflow"]},
        "assignee": (
            None
            if assignee is None
            else {"id": assignee["id"], "name": assignee["name"], "email": assignee["email"]}
        ),
        "reporter": row["reporter"],
        "account": row["account"],
        "sla_deadline": row["sla_deadline"],
        "sla_status": sla_status(
            status=status,
            deadline=_instant(row["sla_deadline"]),
            at_risk_at=_instant(row["sla_at_risk_at"]),
            now=now,
            closed_at=_instant(row["closed_at"]),
        ),
        "risk_tier": row["risk_tier"],
        "risk_score": row["risk_score"],
        "open_alerts_count": row["open_alerts_count"],
        "total_entities_count": len(row["companies"]) + len(row["individuals"]),
        "awaiting": row["awaiting"],
        "query_prompt": row["query_prompt"],
        "parameters": row["parameters"],
        "tags": [
            {"id": tag_id, "label": directory.tags[tag_id]["label"]}
            for tag_id in row["tag_ids"]
            if tag_id in directory.tags
        ],
        "metadata": row["metadata"],
        "custom_properties": row["custom_properties"],
        "companies": row["companies"],
        "individuals": row["individuals"],
        "external_id": row["external_id"],
        "template_key": row["template_key"],
        "revision": row["revision"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closed_at": row["closed_at"],
        "summary": {
            "open_escalations_count": row["open_escalations_count"],
            "pending_override_id": row["pending_override_id"],
            "messages_count": row["messages_count"],
            "last_message_at": row["last_message_at"],
        },
    }
    return Case.model_validate(wire).model_dump(mode="json")


def document_wire(row: Row) -> dict[str, Any]:
    return Document(
        id=row["id"],
        name=row["name"],
        size=row["size"],
        sha256=row["sha256"],
        content_type=row["content_type"],
    ).model_dump(mode="json")


def message_wire(row: Row, documents: Mapping[str, Row]) -> dict[str, Any]:
    wire = {key: row[key] for key in ("id", "case_id", "author_id", "author_name", "kind", "body")}
    wire["created_at"] = row["created_at"]
    wire["documents"] = [
        document_wire(documents[doc_id]) for doc_id in row["document_ids"] if doc_id in documents
    ]
    return Message.model_validate(wire).model_dump(mode="json")


_ESCALATION_FIELDS = tuple(Escalation.model_fields)
_OVERRIDE_FIELDS = tuple(Override.model_fields)
_ACTION_FIELDS = tuple(ActionLogEntry.model_fields)


def escalation_wire(row: Row) -> dict[str, Any]:
    return Escalation.model_validate({k: row[k] for k in _ESCALATION_FIELDS}).model_dump(
        mode="json"
    )


def override_wire(row: Row) -> dict[str, Any]:
    return Override.model_validate({k: row[k] for k in _OVERRIDE_FIELDS}).model_dump(mode="json")


def action_wire(row: Row) -> dict[str, Any]:
    return ActionLogEntry.model_validate({k: row[k] for k in _ACTION_FIELDS}).model_dump(
        mode="json"
    )


def document_ids_of(rows: Iterable[Row]) -> set[str]:
    return {doc_id for row in rows for doc_id in row["document_ids"]}
