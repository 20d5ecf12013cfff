"""Who may do what (DESIGN.md "Who may do what"; the case-actions seed's role rules)."""

from casedesk.domain.enums import ActionType, Role
from casedesk.server.caller import Caller
from casedesk.server.errors import ApiError

REVIEWER_ONLY = frozenset(
    {
        ActionType.ASSIGN,
        ActionType.CLOSE,
        ActionType.REOPEN,
        ActionType.ACCEPT_OVERRIDE,
        ActionType.REFUSE_OVERRIDE,
    }
)


def require_role_for(caller: Caller, action: ActionType) -> None:
    """403 unless the caller's roles allow `action` at all (per-object rules come later)."""
    if action in REVIEWER_ONLY and not caller.has(Role.REVIEWER):
        raise ApiError(403, "forbidden_role", action=action.value, needed=Role.REVIEWER.value)
    if not caller.roles:
        raise ApiError(403, "forbidden_role", action=action.value, needed="contributor or reviewer")
