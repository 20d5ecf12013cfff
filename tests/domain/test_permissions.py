"""What the console offers: the API's role and state rules, client side."""

import uuid
from datetime import UTC, datetime
from typing import Any

from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType, Role
from casedesk.domain.permissions import allowed_actions
from casedesk.domain.records import Override

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ME = uuid.uuid4()
OTHER = uuid.uuid4()
REVIEWER = (Role.REVIEWER,)
CONTRIBUTOR = (Role.CONTRIBUTOR,)


def case(status: str = "open", pending: uuid.UUID | None = None, escalations: int = 0) -> Case:
    wire: dict[str, Any] = {
        "id": str(uuid.uuid4()), "reference": "CAS-000001", "name": "Acme", "type": "KYB",
        "status": status, "decision": "approve" if status == "closed" else None,
        "entity_category": "company",
        "queue": {"id": str(uuid.uuid4()), "name": "Business Onboarding", "workflow": "kyb"},
        "assignee": None, "reporter": None, "account": None, "sla_deadline": None,
        "sla_status": "on_track", "risk_tier": "low", "risk_score": 1, "open_alerts_count": 0,
        "total_entities_count": 0, "awaiting": False, "query_prompt": None, "parameters": [],
        "tags": [], "metadata": {}, "custom_properties": {}, "companies": [], "individuals": [],
        "external_id": None, "template_key": None, "revision": 3,
        "created_at": NOW, "updated_at": NOW, "closed_at": NOW if status == "closed" else None,
        "summary": {
            "open_escalations_count": escalations,
            "pending_override_id": str(pending) if pending else None,
            "messages_count": 0, "last_message_at": None,
        },
    }  # fmt: skip
    return Case.model_validate(wire)


def override(creator: uuid.UUID, reviewers: list[uuid.UUID], shown: Case) -> Override:
    return Override(
        id=shown.summary.pending_override_id or uuid.uuid4(), case_id=shown.id, status="pending",
        creator_id=creator, reason="r", proposed_decision="approve", reviewer_ids=reviewers,
        decided_by_id=None, decision_comment=None, created_at=NOW, decided_at=None,
    )  # fmt: skip


def test_a_contributor_is_never_offered_close_assign_or_reopen() -> None:
    offered = allowed_actions(case=case(), user_id=ME, roles=CONTRIBUTOR)
    assert ActionType.CLOSE not in offered and ActionType.ASSIGN not in offered
    assert {ActionType.COMMENT, ActionType.ESCALATE, ActionType.QUERY} <= offered
    assert allowed_actions(case=case("closed"), user_id=ME, roles=CONTRIBUTOR) == frozenset()


def test_a_closed_case_offers_only_reopen_to_reviewers() -> None:
    assert allowed_actions(case=case("closed"), user_id=ME, roles=REVIEWER) == {ActionType.REOPEN}


def test_the_creator_of_an_override_sees_cancel_and_not_accept_or_refuse() -> None:
    shown = case(pending=uuid.uuid4())
    offered = allowed_actions(
        case=shown, user_id=ME, roles=REVIEWER, overrides=[override(ME, [], shown)]
    )
    assert ActionType.CANCEL_OVERRIDE in offered
    assert not offered & {ActionType.ACCEPT_OVERRIDE, ActionType.REFUSE_OVERRIDE}
    assert ActionType.CLOSE not in offered  # a pending override blocks closing


def test_only_the_named_reviewers_may_decide_an_override() -> None:
    shown = case(pending=uuid.uuid4())
    named = [override(OTHER, [ME], shown)]
    others = [override(OTHER, [uuid.uuid4()], shown)]
    assert ActionType.ACCEPT_OVERRIDE in allowed_actions(
        case=shown, user_id=ME, roles=REVIEWER, overrides=named
    )
    assert ActionType.ACCEPT_OVERRIDE not in allowed_actions(
        case=shown, user_id=ME, roles=REVIEWER, overrides=others
    )


def test_querying_offers_resume_and_escalations_offer_their_updates() -> None:
    offered = allowed_actions(case=case("querying", escalations=1), user_id=ME, roles=CONTRIBUTOR)
    assert ActionType.RESUME in offered and ActionType.QUERY not in offered
    assert {ActionType.UPDATE_ESCALATION, ActionType.COMPLETE_ESCALATION} <= offered
