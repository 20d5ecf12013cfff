"""Which form each case action opens, built from what the case screen knows of the case."""

from casedesk.domain.enums import ActionType, Role
from casedesk.domain.permissions import pending_override
from casedesk.sync.service import CaseService
from casedesk.tui.forms.assign import AssignForm
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.close import CloseForm
from casedesk.tui.forms.comment import CommentForm
from casedesk.tui.forms.escalate import CompleteEscalationForm, EscalateForm
from casedesk.tui.forms.override import (
    AcceptOverrideForm,
    CancelOverrideForm,
    RefuseOverrideForm,
    RequestOverrideForm,
)
from casedesk.tui.forms.status import QueryForm, ReopenForm, ResumeForm
from casedesk.tui.widgets.case_format import CaseView


def form_for(kind: ActionType, service: CaseService, view: CaseView) -> ActionForm | None:
    """The form of `kind` on the case of `view`, or `None` when the case lacks what it needs
    (no pending override to decide, no active escalation to complete) or `kind` has no form."""
    case = view.case
    users = service.users()
    me = service.me()
    match kind:
        case ActionType.COMMENT:
            return CommentForm(service, case=case)
        case ActionType.ESCALATE:
            return EscalateForm(service, case=case, users=users)
        case ActionType.QUERY:
            return QueryForm(service, case=case)
        case ActionType.RESUME:
            return ResumeForm(service, case=case)
        case ActionType.REOPEN:
            return ReopenForm(service, case=case)
        case ActionType.ASSIGN:
            return AssignForm(service, case=case, users=users)
        case ActionType.CLOSE:
            return CloseForm(service, case=case)
        case ActionType.REQUEST_OVERRIDE:
            reviewers = [
                u for u in users if Role.REVIEWER in u.roles and (me is None or u.id != me.id)
            ]
            return RequestOverrideForm(service, case=case, reviewers=reviewers)
        case ActionType.COMPLETE_ESCALATION:
            active = [e for e in view.escalations or () if not e.is_completed]
            if not active:
                return None
            return CompleteEscalationForm(service, case=case, escalations=active)
        case ActionType.ACCEPT_OVERRIDE | ActionType.REFUSE_OVERRIDE | ActionType.CANCEL_OVERRIDE:
            override = pending_override(view.overrides)
            if override is None:
                return None
            decide = {
                ActionType.ACCEPT_OVERRIDE: AcceptOverrideForm,
                ActionType.REFUSE_OVERRIDE: RefuseOverrideForm,
                ActionType.CANCEL_OVERRIDE: CancelOverrideForm,
            }[kind]
            return decide(service, case=case, override=override, people=users)
    return None
