"""Which form each case action opens, built from what the case screen knows of the case."""

from pydantic import TypeAdapter, ValidationError

from casedesk.domain.enums import ActionType, Role
from casedesk.domain.permissions import pending_override
from casedesk.domain.records import Escalation
from casedesk.sync.service import CaseService, PendingAction
from casedesk.tui.forms.assign import AssignForm
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.close import CloseForm
from casedesk.tui.forms.comment import CommentForm
from casedesk.tui.forms.escalate import CompleteEscalationForm, EscalateForm
from casedesk.tui.forms.escalation_update import UpdateEscalationForm
from casedesk.tui.forms.override import (
    AcceptOverrideForm,
    CancelOverrideForm,
    RefuseOverrideForm,
    RequestOverrideForm,
)
from casedesk.tui.forms.status import QueryForm, ReopenForm, ResumeForm
from casedesk.tui.widgets.case_format import CaseView

_escalations = TypeAdapter(list[Escalation])


def form_for(
    kind: ActionType,
    service: CaseService,
    view: CaseView,
    *,
    correcting: PendingAction | None = None,
) -> ActionForm | None:
    """The form of `kind` on the case of `view`, or `None` when the case lacks what it needs
    (no pending override to decide, no active escalation to complete) or `kind` has no form.

    With `correcting`, the form opens on that refused outbox item (its fields, its errors).
    """
    form = _blank_form(kind, service, view, correcting)
    if form is not None and correcting is not None:
        form.edit(correcting)
    return form


def active_escalations(view: CaseView, correcting: PendingAction | None) -> list[Escalation]:
    """The case's active escalations — as the API's refusal listed them, when it did
    (CareValidate's "escalation not found" answer), else as cached."""
    listed = (correcting.data or {}).get("escalations") if correcting is not None else None
    if listed is not None:
        try:
            return [e for e in _escalations.validate_python(listed) if not e.is_completed]
        except ValidationError:
            pass  # an answer we cannot read: the cache knows the escalations too
    return [e for e in view.escalations or () if not e.is_completed]


def _blank_form(
    kind: ActionType, service: CaseService, view: CaseView, correcting: PendingAction | None
) -> ActionForm | None:
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
            active = active_escalations(view, correcting)
            if not active:
                return None
            return CompleteEscalationForm(service, case=case, escalations=active)
        case ActionType.UPDATE_ESCALATION:
            active = active_escalations(view, correcting)
            if not active:
                return None
            return UpdateEscalationForm(
                service, case=case, escalations=active, users=users, clock=service.clock
            )
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
