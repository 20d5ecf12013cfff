"""Bulk actions on the queue's marked cases: which cases take the action, queueing, the summary.

A bulk action is one outbox item per case (each with its own Idempotency-Key
and `client_action_id`), queued without sending, then one push. Cases the
user may not act on — by role or by the case's state, as `allowed_actions`
says — are refused up front, each with its reason, and nothing is queued
for them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from casedesk.domain.actions import CaseAction
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType, CaseStatus, Role
from casedesk.domain.permissions import REVIEWER_ONLY, allowed_actions
from casedesk.sync.service import CaseService

BULK_ACTIONS = (ActionType.ASSIGN, ActionType.ESCALATE, ActionType.COMMENT, ActionType.CLOSE)
"""What the queue offers on marked rows."""

SUMMARY_NAMES_MAX = 10
"""Refusals named in a summary; the rest are counted."""


@dataclass(frozen=True)
class Refusal:
    """A case left out of a bulk action, and why (in the reviewer's words)."""

    reference: str
    reason: str


@dataclass(frozen=True)
class BulkTarget:
    case_id: UUID
    reference: str


@dataclass(frozen=True)
class BulkPlan:
    """The marked cases split into those that take `action` and those refused."""

    action: ActionType
    accepted: list[BulkTarget]
    refused: list[Refusal]

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.refused)


@dataclass
class BulkOutcome:
    """What a bulk action did: queued items, cases refused, and how the one push went."""

    plan: BulkPlan
    queued: list[str] = field(default_factory=list)
    """References of the cases that got an outbox item."""
    failed: list[Refusal] = field(default_factory=list)
    """Cases that could not be queued after all (left the cache meanwhile...)."""
    sent: int = 0
    parked: list[Refusal] = field(default_factory=list)
    """Items the API refused on this push (they wait in the outbox)."""

    @property
    def refused(self) -> list[Refusal]:
        return [*self.plan.refused, *self.failed]


def refusal_reason(case: Case, action: ActionType, roles: frozenset[Role]) -> str:
    """Why `action` is not offered on `case`: the role first (it holds whatever the state)."""
    verb = action.value.replace("_", " ")
    if action in REVIEWER_ONLY and Role.REVIEWER not in roles:
        return f"you may not {verb}: reviewer only"
    if case.status is CaseStatus.CLOSED:
        return "closed"
    if action is ActionType.CLOSE and case.summary.pending_override_id is not None:
        return "an override is pending"
    return f"not while {case.status.value.replace('_', ' ')}"


def plan_bulk(service: CaseService, case_ids: Iterable[UUID], action: ActionType) -> BulkPlan:
    """Split the marked cases by whether the user may take `action` on each now."""
    me = service.me()
    roles = service.roles()
    accepted: list[BulkTarget] = []
    refused: list[Refusal] = []
    for case_id in case_ids:
        details = service.case(str(case_id))
        if details is None:
            refused.append(Refusal(str(case_id), "not in the cache"))
            continue
        case = details.case
        if me is None:
            refused.append(Refusal(case.reference, "not signed in yet: sync first"))
            continue
        allowed = allowed_actions(
            case=case,
            user_id=me.id,
            roles=roles,
            overrides=details.overrides,
            escalations=details.escalations,
        )
        if action not in allowed:
            refused.append(Refusal(case.reference, refusal_reason(case, action, roles)))
        elif (
            action is ActionType.ASSIGN and case.assignee is not None and case.assignee.id == me.id
        ):
            refused.append(Refusal(case.reference, "already assigned to you"))
        else:
            accepted.append(BulkTarget(case.id, case.reference))
    accepted.sort(key=lambda target: target.reference)
    refused.sort(key=lambda refusal: refusal.reference)
    return BulkPlan(action=action, accepted=accepted, refused=refused)


async def run_bulk(service: CaseService, plan: BulkPlan, action: CaseAction) -> BulkOutcome:
    """One outbox item per accepted case (durable before anything is sent), then one push."""
    outcome = BulkOutcome(plan=plan)
    item_ids: dict[UUID, str] = {}
    for target in plan.accepted:
        try:
            queued = await service.act(str(target.case_id), action, send=False)
        except LookupError as error:
            outcome.failed.append(Refusal(target.reference, str(error)))
            continue
        item_ids[queued.item.id] = target.reference
        outcome.queued.append(target.reference)
    if item_ids:
        await service.push()
        for item in service.outbox(include_done=True):
            if item.id not in item_ids:
                continue
            if item.state == "done":
                outcome.sent += 1
            elif item.state == "parked":
                message = item.last_error.message if item.last_error else str(item.park_reason)
                outcome.parked.append(Refusal(item_ids[item.id], message))
    return outcome


def cases(count: int) -> str:
    """`1 case`, `5 cases`."""
    return f"{count} case{'' if count == 1 else 's'}"


def _named(refusals: Sequence[Refusal]) -> str:
    shown = ", ".join(f"{r.reference} ({r.reason})" for r in refusals[:SUMMARY_NAMES_MAX])
    more = len(refusals) - SUMMARY_NAMES_MAX
    return f"{shown} and {more} more" if more > 0 else shown


def refusals_text(plan: BulkPlan) -> str:
    """`refused CAS-000003 (closed), CAS-000009 (you may not close: reviewer only)`."""
    return f"refused {_named(plan.refused)}" if plan.refused else ""


def summary(outcome: BulkOutcome) -> str:
    """`Queued 5 of 7: refused CAS-000003 (closed), …. 5 sent.` — what the reviewer is told."""
    text = f"Queued {len(outcome.queued)} of {outcome.plan.total}"
    refused = outcome.refused
    text += f": refused {_named(refused)}." if refused else "."
    if not outcome.queued:
        return text
    if outcome.sent == len(outcome.queued):
        text += " All sent."
    elif outcome.sent:
        text += f" {outcome.sent} sent."
    if outcome.parked:
        text += f" Parked by the API: {_named(outcome.parked)} — see the outbox (O)."
    waiting = len(outcome.queued) - outcome.sent - len(outcome.parked)
    if waiting:
        text += f" {waiting} waiting in the outbox (they go out when the API answers)."
    return text
