"""Realistic wire objects for store tests, built deterministically from a seed."""

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from casedesk.domain.base import format_timestamp
from casedesk.domain.case import Case
from casedesk.domain.people import Queue, User
from casedesk.domain.records import ActionLogEntry, Escalation, Message, Override

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
QUEUE_IDS = [uuid.UUID(int=i) for i in range(1, 4)]
QUEUE_NAMES = ["Business Onboarding", "Retail KYC", "Escalations"]
USER_IDS = [uuid.UUID(int=100 + i) for i in range(8)]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _ts(moment: datetime) -> str:
    return format_timestamp(moment)


def case_doc(number: int, rng: random.Random, *, revision: int = 1) -> dict[str, Any]:
    """A case as the API returns it (JSON form)."""
    created = T0 - timedelta(hours=rng.randint(1, 2000))
    updated = created + timedelta(minutes=rng.randint(0, 5000))
    status = rng.choice(["open", "in_progress", "querying", "closed"])
    queue = rng.randrange(len(QUEUE_IDS))
    name = f"{rng.choice(['Acme', 'Globex', 'Initech', 'Umbrella'])} {number} Ltd"
    assignee = rng.choice([None, *USER_IDS])
    companies = [
        {
            "id": str(_uuid(rng)),
            "ref": f"c{k}",
            "type": "main" if k == 0 else "affiliated",
            "name": f"{name} {k}",
            "registration_number": f"RC{rng.randint(10000, 99999)}",
            "country": "FR",
        }
        for k in range(rng.randint(1, 3))
    ]
    return {
        "id": str(_uuid(rng)),
        "reference": f"CAS-{number:06d}",
        "name": name,
        "type": "kyb",
        "status": status,
        "decision": "approve" if status == "closed" else None,
        "entity_category": "company",
        "queue": {"id": str(QUEUE_IDS[queue]), "name": QUEUE_NAMES[queue], "workflow": "kyb"},
        "assignee": None
        if assignee is None
        else {"id": str(assignee), "name": f"Reviewer {assignee.int}", "email": "r@example.com"},
        "reporter": {"id": "rep_1", "name": "Partner Bank"},
        "account": None,
        "sla_deadline": _ts(created + timedelta(hours=48)),
        "sla_status": rng.choice(["on_track", "at_risk", "breached"]),
        "risk_tier": rng.choice(["low", "medium", "high"]),
        "risk_score": rng.randint(0, 100),
        "open_alerts_count": rng.randint(0, 3),
        "total_entities_count": len(companies),
        "awaiting": False,
        "query_prompt": None,
        "parameters": [
            {
                "id": f"p{k}",
                "name": f"Parameter {k}",
                "scope": "case",
                "phase": "processing",
                "constraints": {"visible_to_reporter": True},
                "external_id": None,
                "value": rng.randint(0, 999),
            }
            for k in range(2)
        ],
        "tags": [{"id": str(uuid.UUID(int=500 + k)), "label": f"tag{k}"} for k in range(2)],
        "metadata": {"channel": "partner-api"},
        "custom_properties": {"tier": "gold", "pep": rng.random() < 0.1},
        "companies": companies,
        "individuals": [],
        "external_id": None,
        "template_key": None,
        "revision": revision,
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "closed_at": _ts(updated) if status == "closed" else None,
        "summary": {
            "open_escalations_count": rng.randint(0, 2),
            "pending_override_id": None,
            "messages_count": 2,
            "last_message_at": _ts(updated),
        },
    }


def make_cases(count: int, seed: int = 7, start: int = 1) -> list[Case]:
    rng = random.Random(seed)
    return [Case.model_validate(case_doc(start + i, rng)) for i in range(count)]


def bump(case: Case, **changes: Any) -> Case:
    """The same case one revision later, with `changes`."""
    return case.model_copy(
        update={
            "revision": case.revision + 1,
            "updated_at": case.updated_at + timedelta(minutes=1),
            **changes,
        }
    )


def messages(case: Case, count: int) -> list[Message]:
    return [
        Message(
            id=uuid.UUID(int=case.id.int ^ (k + 1)),
            case_id=case.id,
            author_id=USER_IDS[0],
            author_name="Reviewer",
            kind="message",
            body=f"message {k} on {case.reference}",
            documents=[],
            created_at=T0 + timedelta(minutes=k),
        )
        for k in range(count)
    ]


def escalation(case: Case) -> Escalation:
    return Escalation(
        id=uuid.UUID(int=case.id.int ^ 0xE5),
        case_id=case.id,
        type="compliance",
        title="Check UBO",
        reason="ownership unclear",
        note=None,
        follow_up_due_at=None,
        assigned_to_user_id=None,
        created_by_id=USER_IDS[1],
        is_completed=False,
        completed_at=None,
        created_at=T0,
        updated_at=T0,
    )


def override(case: Case) -> Override:
    return Override(
        id=uuid.UUID(int=case.id.int ^ 0x0F),
        case_id=case.id,
        status="pending",
        creator_id=USER_IDS[1],
        reason="second opinion",
        proposed_decision="approve",
        reviewer_ids=[],
        decided_by_id=None,
        decision_comment=None,
        created_at=T0,
        decided_at=None,
    )


def log_entry(case: Case) -> ActionLogEntry:
    return ActionLogEntry(
        id=uuid.UUID(int=case.id.int ^ 0xAC),
        case_id=case.id,
        type="create",
        actor_id=USER_IDS[0],
        client_action_id=None,
        payload={"name": case.name},
        case_revision=1,
        created_at=T0,
    )


def users() -> list[User]:
    return [
        User(
            id=user_id,
            name=f"Reviewer {user_id.int}",
            email=f"r{user_id.int}@example.com",
            roles=["reviewer", "contributor"],
            organization_id=uuid.UUID(int=9),
        )
        for user_id in USER_IDS
    ]


def queues() -> list[Queue]:
    return [
        Queue(id=queue_id, name=name, workflow="kyb", sla_hours=48)
        for queue_id, name in zip(QUEUE_IDS, QUEUE_NAMES, strict=True)
    ]
