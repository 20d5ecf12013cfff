"""Request body of `POST /v1/cases` (the Dotfile "Create a case" rules)."""

import re
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, field_validator

from casedesk.domain import limits
from casedesk.domain.base import WireModel, non_blank
from casedesk.domain.case import CustomValue
from casedesk.domain.enums import CompanyType, RelationRole

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Ref = Annotated[str, Field(min_length=1, max_length=limits.REF_MAX)]


class NewCompany(WireModel):
    ref: Ref | None = None
    type: CompanyType
    name: Annotated[
        str, Field(min_length=limits.COMPANY_NAME_MIN, max_length=limits.COMPANY_NAME_MAX)
    ]
    registration_number: Annotated[str, Field(max_length=limits.REGISTRATION_NUMBER_MAX)] | None = (
        None
    )
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    """ISO 3166-1 alpha-2, upper case."""


class NewRelation(WireModel):
    source_company_ref: Ref
    roles: Annotated[list[RelationRole], Field(min_length=1)]
    ownership_percentage: Annotated[float, Field(ge=0, le=100)] | None = None


class NewIndividual(WireModel):
    first_name: Annotated[str, Field(min_length=1, max_length=limits.PERSON_NAME_MAX)]
    last_name: Annotated[str, Field(min_length=1, max_length=limits.PERSON_NAME_MAX)]
    birth_date: date | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    relations: list[NewRelation] = []

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("must be an email address such as name@example.com")
        return value


TagRef = Annotated[str, Field(min_length=1, max_length=limits.TAG_LABEL_MAX)]
"""A tag id, or a label of the organization (case-insensitive; unknown labels are created)."""


class NewCase(WireModel):
    """Body of `POST /v1/cases`."""

    name: Annotated[str, Field(min_length=limits.CASE_NAME_MIN, max_length=limits.CASE_NAME_MAX)]
    status: Literal["draft", "open"] = "open"
    """Only draft or open: a decision is reached through a review, never at creation."""
    type: Annotated[str, Field(min_length=1, max_length=limits.CASE_TYPE_MAX)] | None = None
    queue_id: UUID | None = None
    """The queue to file the case in; the organization's first queue when absent."""
    external_id: Annotated[str, Field(min_length=1, max_length=limits.EXTERNAL_ID_MAX)] | None = (
        None
    )
    template_key: Annotated[str, Field(min_length=1, max_length=limits.TEMPLATE_KEY_MAX)] | None = (
        None
    )
    template_id: UUID | None = Field(default=None, deprecated="use template_key")
    assignee_id: UUID | None = None
    metadata: (
        Annotated[
            dict[
                Annotated[str, Field(min_length=1, max_length=limits.METADATA_KEY_MAX)],
                Annotated[str, Field(max_length=limits.METADATA_VALUE_MAX)],
            ],
            Field(max_length=limits.METADATA_KEYS_MAX),
        ]
        | None
    ) = None
    custom_properties: dict[str, CustomValue] = {}
    tags: Annotated[list[TagRef], Field(max_length=limits.TAGS_MAX)] | None = None
    companies: Annotated[list[NewCompany], Field(max_length=limits.COMPANIES_MAX)] = []
    individuals: Annotated[list[NewIndividual], Field(max_length=limits.INDIVIDUALS_MAX)] = []

    _name_not_blank = field_validator("name")(non_blank)

    @property
    def given_template_id(self) -> UUID | None:
        """`template_id`, read without the deprecation warning meant for callers who set it."""
        value = self.__dict__.get("template_id")
        return value if isinstance(value, UUID) else None


class Problem(WireModel):
    """A rule broken by a request, named by the field path it concerns."""

    path: str
    message: str
    message_fr: str
    """The same message in French (the API answers in the caller's language)."""


def new_case_problems(case: NewCase) -> list[Problem]:
    """The Dotfile cross-field rules a schema cannot express, each naming its field."""
    problems: list[Problem] = []
    if case.template_key is not None and case.given_template_id is not None:
        problems.append(
            Problem(
                path="template_id",
                message="cannot be set together with template_key",
                message_fr="ne peut pas être donné avec template_key",
            )
        )
    refs: set[str] = set()
    for index, company in enumerate(case.companies):
        if company.ref is None:
            continue
        if company.ref in refs:
            problems.append(
                Problem(
                    path=f"companies.{index}.ref",
                    message=f"duplicate ref {company.ref!r}",
                    message_fr=f"ref {company.ref!r} en double",
                )
            )
        refs.add(company.ref)
    if case.companies:
        mains = sum(1 for company in case.companies if company.type is CompanyType.MAIN)
        if mains != 1:
            problems.append(
                Problem(
                    path="companies",
                    message=f"exactly one company must have type main (found {mains})",
                    message_fr=f"une seule société doit être de type main (trouvé : {mains})",
                )
            )
    for index, person in enumerate(case.individuals):
        for rel_index, relation in enumerate(person.relations):
            if relation.source_company_ref not in refs:
                problems.append(
                    Problem(
                        path=f"individuals.{index}.relations.{rel_index}.source_company_ref",
                        message=(
                            f"no company with ref {relation.source_company_ref!r} in this request"
                        ),
                        message_fr=(
                            f"aucune société de ref {relation.source_company_ref!r} dans la requête"
                        ),
                    )
                )
    return problems
