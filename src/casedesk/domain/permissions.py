"""Which actions a user may take on a case now: the API's role and state rules, client side.

The console offers only these (keys, help, palette); the server enforces the
same rules (`casedesk.server.rules`), so an action offered here is one the API
will not refuse for role or state reasons.
"""

from collections.abc import Iterable
from uuid import UUID

from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType, CaseStatus, OverrideStatus, Role
from casedesk.domain.records import Escalation, Override

REVIEWER_ONLY = frozenset(
    {
        ActionType.ASSIGN,
        ActionType.CLOSE,
        ActionType.REOPEN,
        ActionType.ACCEPT_OVERRIDE,
        ActionType.REFUSE_OVERRIDE,
    }
)
"""Refused (403) to contributors."""


def pending_override(overrides: Iterable[Override] | None) -> Override | None:
    """The pending override among `overrides`, if the records are known."""
    for override in overrides or ():
        if override.status is OverrideStatus.PENDING:
            return override
    return None


def allowed_actions(
    *,
    case: Case,
    user_id: UUID | None,
    roles: Iterable[Role],
    overrides: Iterable[Override] | None = None,
    escalations: Iterable[Escalation] | None = None,
) -> frozenset[ActionType]:
    """Every action `user_id` with `roles` may take on `case` in its current state."""
    held = frozenset(roles)
    if not held or user_id is None:
        return frozenset()
    reviewer = Role.REVIEWER in held
    if case.status is CaseStatus.CLOSED:
        return frozenset({ActionType.REOPEN}) if reviewer else frozenset()

    allowed = {ActionType.COMMENT, ActionType.ESCALATE}
    if case.status is CaseStatus.QUERYING:
        allowed.add(ActionType.RESUME)
    else:
        allowed.add(ActionType.QUERY)
    active = [e for e in escalations or () if not e.is_completed]
    if active or (escalations is None and case.summary.open_escalations_count):
        allowed |= {ActionType.UPDATE_ESCALATION, ActionType.COMPLETE_ESCALATION}
    if reviewer:
        allowed.add(ActionType.ASSIGN)

    pending_id = case.summary.pending_override_id
    if pending_id is None:
        allowed.add(ActionType.REQUEST_OVERRIDE)
        if reviewer:
            allowed.add(ActionType.CLOSE)
    else:
        pending = pending_override(overrides)
        mine = pending is not None and pending.creator_id == user_id
        if mine:
            allowed.add(ActionType.CANCEL_OVERRIDE)
        elif (
            pending is not None
            and reviewer
            and (not pending.reviewer_ids or user_id in pending.reviewer_ids)
        ):
            allowed |= {ActionType.ACCEPT_OVERRIDE, ActionType.REFUSE_OVERRIDE}
    return frozenset(allowed)
