"""What each action of `POST /v1/cases/{id}/actions` checks and changes.

`apply_action` runs inside the write transaction of the request: it checks the
rules, writes the effect, appends the permanent log entry and bumps the case's
`revision` and `updated_at` — all or nothing.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from casedesk.domain.actions import (
    AcceptOverrideAction,
    AssignAction,
    CancelOverrideAction,
    CaseAction,
    CloseAction,
    CommentAction,
    CompleteEscalationAction,
    EscalateAction,
    QueryAction,
    RefuseOverrideAction,
    ReopenAction,
    RequestOverrideAction,
    ResumeAction,
    UpdateEscalationAction,
)
from casedesk.domain.base import format_timestamp
from casedesk.domain.enums import ActionType, CaseStatus, MessageKind, OverrideStatus
from casedesk.server.caller import Caller
from casedesk.server.directory import OrgDirectory
from casedesk.server.errors import ApiError, Text, bad_request
from casedesk.server.rules.roles import require_role_for
from casedesk.server.schema import actions, cases, documents, escalations, messages, overrides
from casedesk.server.serialize import escalation_wire

Row = dict[str, Any]

ESCALATION_TITLE_MAX = 80


@dataclass
class Outcome:
    """What an action did: the log entry, and the objects `include=` can return."""

    action: Row
    replayed: bool = False
    comment: Row | None = None
    override: Row | None = None


@dataclass
class _Change:
    """Everything one action changes on the case row, plus its log payload."""

    case: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    comment: Row | None = None
    override: Row | None = None


@dataclass(frozen=True)
class _Context:
    connection: Connection
    caller: Caller
    directory: OrgDirectory
    case: Row
    now: datetime

    @property
    def stamp(self) -> str:
        return format_timestamp(self.now)


def request_payload(action: CaseAction) -> dict[str, Any]:
    """The action as the caller sent it, without `type` and `client_action_id`."""
    return action.model_dump(mode="json", exclude={"type", "client_action_id"}, exclude_unset=False)


def apply_action(
    *,
    connection: Connection,
    caller: Caller,
    directory: OrgDirectory,
    case: Row,
    action: CaseAction,
    now: datetime,
    if_match: int | None,
) -> Outcome:
    """Check and apply `action` to `case` (a `cases` row read in this transaction)."""
    if action.client_action_id is not None:
        earlier = _recorded(connection, case["id"], str(action.client_action_id))
        if earlier is not None:
            # A replay is the same caller sending the same action again: anyone else
            # reusing the id must not be handed the first caller's action.
            if (
                earlier["actor_id"] != caller.user_id
                or earlier["type"] != action.type.value
                or not _same_request(earlier, action)
            ):
                raise ApiError(
                    409, "client_action_id_reused", client_action_id=str(action.client_action_id)
                )
            return Outcome(action=earlier, replayed=True)

    require_role_for(caller, action.type)
    if if_match is not None and if_match != case["revision"]:
        raise ApiError(
            412,
            "stale_revision",
            current=case["revision"],
            expected=if_match,
            data={"revision": case["revision"]},
        )
    status = CaseStatus(case["status"])
    if status is CaseStatus.CLOSED and action.type is not ActionType.REOPEN:
        raise ApiError(409, "case_closed")

    context = _Context(connection, caller, directory, case, now)
    change = _HANDLERS[action.type](context, action)
    revision = case["revision"] + 1
    log_row: Row = {
        "id": str(uuid.uuid4()),
        "case_id": case["id"],
        "type": action.type.value,
        "actor_id": caller.user_id,
        "client_action_id": None
        if action.client_action_id is None
        else str(action.client_action_id),
        "payload": {**request_payload(action), **change.payload},
        "case_revision": revision,
        "created_at": context.stamp,
    }
    connection.execute(insert(actions).values(**log_row))
    connection.execute(
        update(cases)
        .where(cases.c.id == case["id"])
        .values(**change.case, revision=revision, updated_at=context.stamp)
    )
    return Outcome(action=log_row, comment=change.comment, override=change.override)


def _recorded(connection: Connection, case_id: str, client_action_id: str) -> Row | None:
    row = connection.execute(
        select(actions).where(
            actions.c.case_id == case_id, actions.c.client_action_id == client_action_id
        )
    ).first()
    return None if row is None else dict(row._mapping)


def _same_request(earlier: Row, action: CaseAction) -> bool:
    sent = request_payload(action)
    return all(earlier["payload"].get(key) == value for key, value in sent.items())


# -- chat -------------------------------------------------------------------------


def _add_message(
    context: _Context, *, kind: MessageKind, body: str, document_ids: list[str]
) -> Row:
    row: Row = {
        "id": str(uuid.uuid4()),
        "case_id": context.case["id"],
        "author_id": context.caller.user_id,
        "author_name": context.caller.name,
        "kind": kind.value,
        "body": body,
        "document_ids": document_ids,
        "created_at": context.stamp,
    }
    context.connection.execute(insert(messages).values(**row))
    return row


def _message_counts(context: _Context) -> dict[str, Any]:
    return {
        "messages_count": context.case["messages_count"] + 1,
        "last_message_at": context.stamp,
    }


def _comment(context: _Context, action: CommentAction) -> _Change:
    document_ids = [str(doc_id) for doc_id in action.document_ids]
    if document_ids:
        known = set(
            context.connection.execute(
                select(documents.c.id).where(
                    documents.c.id.in_(document_ids),
                    documents.c.organization_id == context.caller.organization_id,
                )
            ).scalars()
        )
        for index, doc_id in enumerate(document_ids):
            if doc_id not in known:
                raise bad_request(
                    f"document_ids.{index}",
                    Text(
                        f"no document {doc_id}; upload it first",
                        f"aucun document {doc_id} ; téléversez-le d'abord",
                    ),
                )
    message = _add_message(
        context, kind=MessageKind.MESSAGE, body=action.body, document_ids=document_ids
    )
    return _Change(
        case=_message_counts(context), payload={"message_id": message["id"]}, comment=message
    )


def _query(context: _Context, action: QueryAction) -> _Change:
    if context.case["status"] == CaseStatus.QUERYING.value:
        raise ApiError(409, "case_already_querying")
    message = _add_message(
        context, kind=MessageKind.QUERY_PROMPT, body=action.prompt, document_ids=[]
    )
    return _Change(
        case={
            "status": CaseStatus.QUERYING.value,
            "query_prompt": action.prompt,
            "awaiting": True,
            "sla_paused_at": context.stamp,
            **_message_counts(context),
        },
        payload={"message_id": message["id"]},
        comment=message,
    )


def _resume(context: _Context, action: ResumeAction) -> _Change:  # noqa: ARG001
    if context.case["status"] != CaseStatus.QUERYING.value:
        raise ApiError(409, "case_not_querying")
    # The SLA clock stood still while the other side was asked: move the deadline on.
    changes: dict[str, Any] = {
        "status": CaseStatus.IN_PROGRESS.value,
        "query_prompt": None,
        "awaiting": False,
        "sla_paused_at": None,
    }
    paused_at = context.case["sla_paused_at"]
    if paused_at is not None:
        paused = context.now - datetime.fromisoformat(paused_at)
        for column in ("sla_deadline", "sla_at_risk_at"):
            if context.case[column] is not None:
                moved = datetime.fromisoformat(context.case[column]) + max(paused, timedelta(0))
                changes[column] = format_timestamp(moved)
    return _Change(case=changes)


# -- escalations ------------------------------------------------------------------


def _user_in_org(context: _Context, user_id: str, path: str) -> None:
    if user_id not in context.directory.users:
        raise bad_request(
            path,
            Text(
                f"no user {user_id} in this organization",
                f"aucun utilisateur {user_id} dans cette organisation",
            ),
        )


def _escalate(context: _Context, action: EscalateAction) -> _Change:
    assignee = None if action.escalate_to is None else str(action.escalate_to)
    if assignee is not None:
        _user_in_org(context, assignee, "escalate_to")
    first_line = action.reason.strip().splitlines()[0]
    row: Row = {
        "id": str(uuid.uuid4()),
        "case_id": context.case["id"],
        "type": "escalation",
        "title": first_line[:ESCALATION_TITLE_MAX],
        "reason": action.reason,
        "note": None,
        "follow_up_due_at": None,
        "assigned_to_user_id": assignee,
        "created_by_id": context.caller.user_id,
        "is_completed": False,
        "completed_at": None,
        "created_at": context.stamp,
        "updated_at": context.stamp,
    }
    context.connection.execute(insert(escalations).values(**row))
    return _Change(
        case={"open_escalations_count": context.case["open_escalations_count"] + 1},
        payload={"escalation_id": row["id"]},
    )


def _active_escalations(context: _Context) -> list[Row]:
    rows = context.connection.execute(
        select(escalations)
        .where(escalations.c.case_id == context.case["id"], escalations.c.is_completed.is_(False))
        .order_by(escalations.c.seq)
    ).mappings()
    return [dict(row) for row in rows]


def _not_active(escalation_id: str) -> Text:
    return Text(
        f"not an active escalation of this case: {escalation_id}",
        f"pas une escalade active de ce dossier : {escalation_id}",
    )


def _escalation_not_found(missing: list[tuple[int, str]], active: list[Row]) -> ApiError:
    """CareValidate's 400: it names the unknown ids and lists the active escalations."""
    return ApiError(
        400,
        "escalation_not_found",
        ids=", ".join(escalation_id for _, escalation_id in missing),
        details=[
            (f"escalations.{index}.escalation_id", _not_active(eid)) for index, eid in missing
        ],
        data={"escalations": [escalation_wire(row) for row in active]},
    )


def _update_escalation(context: _Context, action: UpdateEscalationAction) -> _Change:
    active = {row["id"]: row for row in _active_escalations(context)}
    missing = [
        (index, str(item.escalation_id))
        for index, item in enumerate(action.escalations)
        if str(item.escalation_id) not in active
    ]
    if missing:
        raise _escalation_not_found(missing, list(active.values()))
    seen: set[str] = set()
    for index, item in enumerate(action.escalations):
        if str(item.escalation_id) in seen:
            raise bad_request(
                f"escalations.{index}.escalation_id",
                Text("listed twice in this request", "cité deux fois dans cette requête"),
            )
        seen.add(str(item.escalation_id))
    updates: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(action.escalations):
        values: dict[str, Any] = {}
        if "note" in item.model_fields_set:
            values["note"] = item.note
        if "follow_up_due_at" in item.model_fields_set:
            values["follow_up_due_at"] = (
                None if item.follow_up_due_at is None else format_timestamp(item.follow_up_due_at)
            )
        if "assigned_to_email" in item.model_fields_set:
            if item.assigned_to_email is None:
                values["assigned_to_user_id"] = None
            else:
                user = context.directory.user_by_email(item.assigned_to_email)
                if user is None:
                    raise ApiError(
                        400,
                        "assignee_not_found",
                        email=item.assigned_to_email,
                        details=[
                            (
                                f"escalations.{index}.assigned_to_email",
                                Text(
                                    "no assignable user with this email in this organization",
                                    "aucun utilisateur assignable avec cette adresse ici",
                                ),
                            )
                        ],
                    )
                values["assigned_to_user_id"] = user["id"]
        updates.append((str(item.escalation_id), values))
    for escalation_id, values in updates:
        context.connection.execute(
            update(escalations)
            .where(escalations.c.id == escalation_id)
            .values(**values, updated_at=context.stamp)
        )
    return _Change()


def _complete_escalation(context: _Context, action: CompleteEscalationAction) -> _Change:
    active = _active_escalations(context)
    escalation_id = str(action.escalation_id)
    if escalation_id not in {row["id"] for row in active}:
        error = _escalation_not_found([(0, escalation_id)], active)
        error.details = [("escalation_id", _not_active(escalation_id))]
        raise error
    values: dict[str, Any] = {"is_completed": True, "completed_at": context.stamp}
    if action.note is not None:
        values["note"] = action.note
    context.connection.execute(
        update(escalations)
        .where(escalations.c.id == escalation_id)
        .values(**values, updated_at=context.stamp)
    )
    return _Change(
        case={"open_escalations_count": max(0, context.case["open_escalations_count"] - 1)}
    )


# -- overrides --------------------------------------------------------------------


def _request_override(context: _Context, action: RequestOverrideAction) -> _Change:
    if context.case["pending_override_id"] is not None:
        raise ApiError(409, "override_pending", override_id=context.case["pending_override_id"])
    reviewer_ids = [str(reviewer) for reviewer in action.reviewer_ids]
    for index, reviewer in enumerate(reviewer_ids):
        if not context.directory.is_reviewer(reviewer):
            raise bad_request(
                f"reviewer_ids.{index}",
                Text(
                    f"{reviewer} is not a reviewer of this organization",
                    f"{reviewer} n'est pas relecteur dans cette organisation",
                ),
            )
        if reviewer == context.caller.user_id:
            raise bad_request(
                f"reviewer_ids.{index}",
                Text(
                    "the creator of an override cannot review it",
                    "le créateur d'une dérogation ne peut pas la relire",
                ),
            )
    row: Row = {
        "id": str(uuid.uuid4()),
        "case_id": context.case["id"],
        "status": OverrideStatus.PENDING.value,
        "creator_id": context.caller.user_id,
        "reason": action.reason,
        "proposed_decision": action.proposed_decision.value,
        "reviewer_ids": reviewer_ids,
        "decided_by_id": None,
        "decision_comment": None,
        "created_at": context.stamp,
        "decided_at": None,
    }
    context.connection.execute(insert(overrides).values(**row))
    return _Change(
        case={"pending_override_id": row["id"]}, payload={"override_id": row["id"]}, override=row
    )


def _pending_override(context: _Context, override_id: str) -> Row:
    row = context.connection.execute(
        select(overrides).where(
            overrides.c.id == override_id, overrides.c.case_id == context.case["id"]
        )
    ).first()
    if row is None:
        raise ApiError(
            400,
            "override_not_found",
            override_id=override_id,
            details=[
                (
                    "override_id",
                    Text(
                        f"no override {override_id} on this case",
                        f"aucune dérogation {override_id} sur ce dossier",
                    ),
                )
            ],
        )
    found = dict(row._mapping)
    if found["status"] != OverrideStatus.PENDING.value:
        raise ApiError(409, "override_not_pending", state=found["status"])
    return found


def _decide_override(
    context: _Context, override_id: str, outcome: OverrideStatus, comment: str | None
) -> _Change:
    override = _pending_override(context, override_id)
    if override["creator_id"] == context.caller.user_id:
        raise ApiError(403, "override_creator_cannot_decide")
    if override["reviewer_ids"] and context.caller.user_id not in override["reviewer_ids"]:
        raise ApiError(403, "not_assigned_reviewer")
    decided = {
        "status": outcome.value,
        "decided_by_id": context.caller.user_id,
        "decision_comment": comment,
        "decided_at": context.stamp,
    }
    context.connection.execute(
        update(overrides).where(overrides.c.id == override_id).values(**decided)
    )
    case_changes: dict[str, Any] = {"pending_override_id": None}
    if outcome is OverrideStatus.ACCEPTED:
        # An accepted override is the second pair of eyes: its decision closes the case.
        case_changes |= {
            "status": CaseStatus.CLOSED.value,
            "decision": override["proposed_decision"],
            "closed_at": context.stamp,
            "query_prompt": None,
            "awaiting": False,
        }
    return _Change(case=case_changes, override={**override, **decided})


def _accept_override(context: _Context, action: AcceptOverrideAction) -> _Change:
    return _decide_override(
        context, str(action.override_id), OverrideStatus.ACCEPTED, action.comment
    )


def _refuse_override(context: _Context, action: RefuseOverrideAction) -> _Change:
    return _decide_override(
        context, str(action.override_id), OverrideStatus.REFUSED, action.comment
    )


def _cancel_override(context: _Context, action: CancelOverrideAction) -> _Change:
    override = _pending_override(context, str(action.override_id))
    if override["creator_id"] != context.caller.user_id:
        raise ApiError(403, "override_creator_only")
    cancelled = {"status": OverrideStatus.CANCELLED.value, "decided_at": context.stamp}
    context.connection.execute(
        update(overrides).where(overrides.c.id == override["id"]).values(**cancelled)
    )
    return _Change(case={"pending_override_id": None}, override={**override, **cancelled})


# -- lifecycle --------------------------------------------------------------------


def _close(context: _Context, action: CloseAction) -> _Change:
    if context.case["pending_override_id"] is not None:
        raise ApiError(
            409, "override_blocks_close", override_id=context.case["pending_override_id"]
        )
    return _Change(
        case={
            "status": CaseStatus.CLOSED.value,
            "decision": action.decision.value,
            "closed_at": context.stamp,
            "query_prompt": None,
            "awaiting": False,
        }
    )


def _reopen(context: _Context, action: ReopenAction) -> _Change:  # noqa: ARG001
    if context.case["status"] != CaseStatus.CLOSED.value:
        raise ApiError(409, "case_not_closed")
    return _Change(case={"status": CaseStatus.OPEN.value, "decision": None, "closed_at": None})


def _assign(context: _Context, action: AssignAction) -> _Change:
    assignee = None if action.assignee_id is None else str(action.assignee_id)
    changes: dict[str, Any] = {"assignee_id": assignee}
    if assignee is not None:
        _user_in_org(context, assignee, "assignee_id")
        if context.case["status"] == CaseStatus.OPEN.value:
            changes["status"] = CaseStatus.IN_PROGRESS.value
    return _Change(case=changes)


_HANDLERS: dict[ActionType, Callable[[_Context, Any], _Change]] = {
    ActionType.COMMENT: _comment,
    ActionType.ESCALATE: _escalate,
    ActionType.UPDATE_ESCALATION: _update_escalation,
    ActionType.COMPLETE_ESCALATION: _complete_escalation,
    ActionType.REQUEST_OVERRIDE: _request_override,
    ActionType.ACCEPT_OVERRIDE: _accept_override,
    ActionType.REFUSE_OVERRIDE: _refuse_override,
    ActionType.CANCEL_OVERRIDE: _cancel_override,
    ActionType.CLOSE: _close,
    ActionType.ASSIGN: _assign,
    ActionType.QUERY: _query,
    ActionType.RESUME: _resume,
    ActionType.REOPEN: _reopen,
}
