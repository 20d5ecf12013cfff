"""Valid wire shapes of the case API (DESIGN.md, "The case API (v1)"), for tests to answer with."""

import uuid
from typing import Any

ORG = "7f000000-0000-4000-8000-000000000001"
USER = "7f000000-0000-4000-8000-0000000000aa"
QUEUE = "7f000000-0000-4000-8000-0000000000bb"
WHEN = "2025-06-15T09:00:00.000000Z"


def user(**overrides: Any) -> dict[str, Any]:
    return {
        "id": USER,
        "name": "Ada Reviewer",
        "email": "ada@example.com",
        "roles": ["contributor", "reviewer"],
        "organization_id": ORG,
    } | overrides


def queue(**overrides: Any) -> dict[str, Any]:
    return {
        "id": QUEUE,
        "name": "Business Onboarding",
        "workflow": "kyb",
        "sla_hours": 48,
    } | overrides


def case(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=number)),
        "reference": f"CAS-{number:06d}",
        "name": f"Acme Holdings {number}",
        "type": "Onboarding",
        "status": "open",
        "decision": None,
        "entity_category": "company",
        "queue": {"id": QUEUE, "name": "Business Onboarding", "workflow": "kyb"},
        "assignee": None,
        "reporter": None,
        "account": None,
        "sla_deadline": WHEN,
        "sla_status": "on_track",
        "risk_tier": "high",
        "risk_score": 80,
        "open_alerts_count": 0,
        "total_entities_count": 1,
        "awaiting": False,
        "query_prompt": None,
        "parameters": [],
        "tags": [],
        "metadata": {},
        "custom_properties": {},
        "companies": [],
        "individuals": [],
        "external_id": None,
        "template_key": None,
        "revision": 1,
        "created_at": WHEN,
        "updated_at": WHEN,
        "closed_at": None,
        "summary": {
            "open_escalations_count": 0,
            "pending_override_id": None,
            "messages_count": 0,
            "last_message_at": None,
        },
    } | overrides


def message(number: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=1000 + number)),
        "case_id": str(uuid.UUID(int=1)),
        "author_id": USER,
        "author_name": "Ada Reviewer",
        "kind": "message",
        "body": f"message {number}",
        "documents": [],
        "created_at": WHEN,
    } | overrides


def action_entry(**overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=5000)),
        "case_id": str(uuid.UUID(int=1)),
        "type": "comment",
        "actor_id": USER,
        "client_action_id": None,
        "payload": {"body": "hello"},
        "case_revision": 2,
        "created_at": WHEN,
    } | overrides


def document(**overrides: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=7000)),
        "name": "passport.pdf",
        "size": 3,
        "sha256": "0" * 64,
        "content_type": "application/pdf",
    } | overrides


def ok(data: Any, *, page: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"request_id": "req_ok"}
    if page is not None:
        meta["page"] = page
    return {"data": data, "meta": meta}


def failure(
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "details": details or []}
    if data is not None:
        error["data"] = data
    return {"error": error, "meta": {"request_id": "req_err"}}
