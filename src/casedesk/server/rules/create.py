"""Creating a case: the Dotfile "Create a case" rules, then the case and its first log entry."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from casedesk.domain.base import format_timestamp
from casedesk.domain.create import NewCase, new_case_problems
from casedesk.domain.enums import ActionType, CaseStatus, EntityCategory, RiskTier
from casedesk.domain.sla import at_risk_from
from casedesk.server.caller import Caller
from casedesk.server.directory import OrgDirectory
from casedesk.server.errors import ApiError, Text, bad_request
from casedesk.server.schema import actions, cases, custom_property_definitions, tags, templates

DEFAULT_CASE_TYPE = "Onboarding"

_TYPE_NAMES: dict[str, Text] = {
    "string": Text("must be a string", "doit être une chaîne de caractères"),
    "boolean": Text("must be a boolean", "doit être un booléen"),
    "number": Text("must be a number", "doit être un nombre"),
    "string_list": Text("must be a list of strings", "doit être une liste de chaînes"),
}

_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "string_list": (list,),
}


def create_case(
    *,
    connection: Connection,
    caller: Caller,
    directory: OrgDirectory,
    body: NewCase,
    now: datetime,
) -> dict[str, Any]:
    """Check every rule, insert the case and its `create` log entry; returns the row."""
    problems = new_case_problems(body)
    if problems:
        raise ApiError(
            400,
            "validation_error",
            details=[(p.path, Text(p.message, p.message_fr)) for p in problems],
        )
    organization_id = caller.organization_id
    queue = _queue(directory, body)
    template_key = _template_key(connection, organization_id, body)
    if body.assignee_id is not None and str(body.assignee_id) not in directory.users:
        raise bad_request(
            "assignee_id",
            Text(
                f"no user {body.assignee_id} in this organization",
                f"aucun utilisateur {body.assignee_id} dans cette organisation",
            ),
        )
    custom_properties = _custom_properties(connection, organization_id, body)
    if body.external_id is not None:
        taken = connection.execute(
            select(cases.c.id).where(
                cases.c.organization_id == organization_id, cases.c.external_id == body.external_id
            )
        ).first()
        if taken is not None:
            raise ApiError(
                409,
                "external_id_taken",
                external_id=body.external_id,
                details=[
                    (
                        "external_id",
                        Text(
                            "must be unique: another case already uses it",
                            "doit être unique : un autre dossier l'utilise déjà",
                        ),
                    )
                ],
            )
    tag_ids = _tag_ids(connection, directory, body.tags or [])

    stamp = format_timestamp(now)
    deadline = now + timedelta(hours=queue["sla_hours"])
    case_id = str(uuid.uuid4())
    companies = [
        {"id": str(uuid.uuid4()), **company.model_dump(mode="json")} for company in body.companies
    ]
    individuals = [
        {"id": str(uuid.uuid4()), **person.model_dump(mode="json")} for person in body.individuals
    ]
    category = (
        EntityCategory.INDIVIDUAL if individuals and not companies else EntityCategory.COMPANY
    )
    status = CaseStatus(body.status)
    if body.assignee_id is not None and status is CaseStatus.OPEN:
        status = CaseStatus.IN_PROGRESS
    row: dict[str, Any] = {
        "id": case_id,
        "organization_id": organization_id,
        "reference": _next_reference(connection, organization_id),
        "name": body.name,
        "name_key": body.name.casefold(),
        "type": body.type or DEFAULT_CASE_TYPE,
        "status": status.value,
        "decision": None,
        "entity_category": category.value,
        "queue_id": queue["id"],
        "assignee_id": None if body.assignee_id is None else str(body.assignee_id),
        "reporter": {"id": caller.user_id, "name": caller.name},
        "account": {"id": organization_id, "name": caller.organization_name},
        "sla_deadline": format_timestamp(deadline),
        "sla_at_risk_at": format_timestamp(at_risk_from(deadline, queue["sla_hours"])),
        "sla_paused_at": None,
        "risk_tier": RiskTier.LOW.value,
        "risk_score": 0,
        "open_alerts_count": 0,
        "awaiting": False,
        "query_prompt": None,
        "parameters": [],
        "tag_ids": tag_ids,
        "metadata": body.metadata or {},
        "custom_properties": custom_properties,
        "companies": companies,
        "individuals": individuals,
        "external_id": body.external_id,
        "template_key": template_key,
        "revision": 1,
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": None,
        "open_escalations_count": 0,
        "pending_override_id": None,
        "messages_count": 0,
        "last_message_at": None,
    }
    connection.execute(insert(cases).values(**row))
    connection.execute(
        insert(actions).values(
            id=str(uuid.uuid4()),
            case_id=case_id,
            type=ActionType.CREATE.value,
            actor_id=caller.user_id,
            client_action_id=None,
            payload={"name": body.name, "status": status.value},
            case_revision=1,
            created_at=stamp,
        )
    )
    return row


def _queue(directory: OrgDirectory, body: NewCase) -> dict[str, Any]:
    if body.queue_id is None:
        return next(iter(directory.queues.values()))
    queue = directory.queues.get(str(body.queue_id))
    if queue is None:
        raise bad_request(
            "queue_id",
            Text(
                f"no queue {body.queue_id} in this organization",
                f"aucune file {body.queue_id} dans cette organisation",
            ),
        )
    return queue


def _template_key(connection: Connection, organization_id: str, body: NewCase) -> str | None:
    if body.template_key is not None:
        found = connection.execute(
            select(templates.c.key).where(
                templates.c.organization_id == organization_id, templates.c.key == body.template_key
            )
        ).first()
        if found is None:
            raise bad_request(
                "template_key",
                Text(
                    f"no template with key {body.template_key!r}",
                    f"aucun modèle de clé {body.template_key!r}",
                ),
            )
        return body.template_key
    if body.given_template_id is not None:
        key = connection.execute(
            select(templates.c.key).where(
                templates.c.organization_id == organization_id,
                templates.c.id == str(body.given_template_id),
            )
        ).scalar()
        if key is None:
            raise bad_request(
                "template_id",
                Text(
                    f"no template with id {body.given_template_id}",
                    f"aucun modèle d'identifiant {body.given_template_id}",
                ),
            )
        return str(key)
    return None


def _custom_properties(
    connection: Connection, organization_id: str, body: NewCase
) -> dict[str, Any]:
    definitions = {
        row.key: row
        for row in connection.execute(
            select(custom_property_definitions).where(
                custom_property_definitions.c.organization_id == organization_id
            )
        )
    }
    for key, value in body.custom_properties.items():
        path = f"custom_properties.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise bad_request(
                path,
                Text(
                    f"unknown custom property {key!r}",
                    f"propriété personnalisée inconnue {key!r}",
                ),
            )
        if definition.archived:
            raise bad_request(
                path,
                Text(
                    f"custom property {key!r} is archived and no longer accepted",
                    f"la propriété personnalisée {key!r} est archivée et n'est plus acceptée",
                ),
            )
        if value is None:
            continue
        expected = _VALUE_TYPES.get(definition.value_type, (str,))
        wrong = not isinstance(value, expected) or (
            definition.value_type == "number" and isinstance(value, bool)
        )
        if wrong:
            raise bad_request(path, _TYPE_NAMES[definition.value_type])
    return dict(body.custom_properties)


def _tag_ids(connection: Connection, directory: OrgDirectory, refs: list[str]) -> list[str]:
    """Tag ids for refs that are ids or labels; unknown labels create the tag."""
    found: list[str] = []
    for index, ref in enumerate(refs):
        if not ref.strip():
            raise bad_request(f"tags.{index}", Text("must not be blank", "ne doit pas être vide"))
        tag = directory.tags.get(ref) or directory.tag_by_label(ref)
        if tag is None:
            tag = {
                "id": str(uuid.uuid4()),
                "organization_id": directory.organization_id,
                "label": ref.strip(),
                "label_key": ref.strip().casefold(),
            }
            connection.execute(insert(tags).values(**tag))
            directory.tags[tag["id"]] = tag
        if tag["id"] not in found:
            found.append(tag["id"])
    return found


def _next_reference(connection: Connection, organization_id: str) -> str:
    last = connection.execute(
        select(cases.c.reference)
        .where(cases.c.organization_id == organization_id)
        .order_by(cases.c.seq.desc())
        .limit(1)
    ).scalar()
    number = int(str(last).removeprefix("CAS-")) + 1 if last else 1
    return f"CAS-{number:06d}"
