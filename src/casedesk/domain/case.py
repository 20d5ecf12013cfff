"""The case object, as `GET /v1/cases` and every action return it."""

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, PlainValidator, WithJsonSchema

from casedesk.domain.base import Timestamp, WireModel
from casedesk.domain.enums import (
    CaseStatus,
    CompanyType,
    Decision,
    EntityCategory,
    ParameterPhase,
    ParameterScope,
    RelationRole,
    RiskTier,
    SlaStatus,
)


def _custom_value(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ValueError("must be a string, a boolean, a number, a list of strings, or null")


CustomValue = Annotated[
    str | bool | int | float | list[str] | None,
    PlainValidator(_custom_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "boolean"},
                {"type": "number"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "null"},
            ]
        }
    ),
]
"""A custom property's value (Dotfile: string | boolean | string[] | number | null)."""

ParameterValue = str | bool | int | float | None


class QueueRef(WireModel):
    id: UUID
    name: str
    workflow: str


class UserRef(WireModel):
    """A user as a case points at them (assignee)."""

    id: UUID
    name: str
    email: str


class PartyRef(WireModel):
    """A reporter or account: someone outside the reviewing team."""

    id: str
    name: str


class ParameterConstraints(WireModel):
    visible_to_reporter: bool = True


class Parameter(WireModel):
    """A parameter value on the case (SoftwareOne: scope, phase, visibility)."""

    id: str
    name: str
    scope: ParameterScope
    phase: ParameterPhase
    constraints: ParameterConstraints
    external_id: str | None = None
    value: ParameterValue


class Tag(WireModel):
    id: UUID
    label: str


class Company(WireModel):
    id: UUID
    ref: str | None
    type: CompanyType
    name: str
    registration_number: str | None = None
    country: str | None = None


class Relation(WireModel):
    source_company_ref: str
    roles: list[RelationRole]
    ownership_percentage: float | None = None


class Individual(WireModel):
    id: UUID
    first_name: str
    last_name: str
    birth_date: date | None = None
    email: str | None = None
    relations: list[Relation] = []


class CaseSummary(WireModel):
    """Counts that let a queue show flags without fetching a case's details."""

    open_escalations_count: int = Field(ge=0)
    pending_override_id: UUID | None
    messages_count: int = Field(ge=0)
    last_message_at: Timestamp | None


class Case(WireModel):
    """A case: the union of the reference platforms' case fields."""

    id: UUID
    reference: Annotated[str, Field(pattern=r"^CAS-\d{6,}$")]
    name: str
    type: str
    status: CaseStatus
    decision: Decision | None
    entity_category: EntityCategory
    queue: QueueRef
    assignee: UserRef | None
    reporter: PartyRef | None
    account: PartyRef | None
    sla_deadline: Timestamp | None
    sla_status: SlaStatus
    risk_tier: RiskTier
    risk_score: int = Field(ge=0, le=100)
    open_alerts_count: int = Field(ge=0)
    total_entities_count: int = Field(ge=0)
    awaiting: bool
    query_prompt: str | None
    parameters: list[Parameter]
    tags: list[Tag]
    metadata: dict[str, str]
    custom_properties: dict[str, CustomValue]
    companies: list[Company]
    individuals: list[Individual]
    external_id: str | None
    template_key: str | None
    revision: int = Field(ge=1)
    created_at: Timestamp
    updated_at: Timestamp
    closed_at: Timestamp | None
    summary: CaseSummary
