"""Writing a new case back into the new-case form: the inverse of reading its fields.

A case the API refused reopens in the form to be corrected; its affiliated companies
and individuals are written as lines in the grammar `new_case_lines` reads, so that
reading them gives the same case back.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Self
from uuid import UUID

from casedesk.domain.create import NewCase, NewCompany, NewIndividual
from casedesk.domain.enums import CompanyType
from casedesk.domain.envelope import ErrorDetail
from casedesk.tui.forms.fields import FieldValue
from casedesk.tui.widgets.outbox_format import OutboxEntry

AFFILIATED = "affiliated_companies"
"""The field of the affiliated companies (one per line; not a path of the API)."""


def company_line(company: NewCompany) -> str:
    """An affiliated company as its line (`sub; Sub GmbH;; DE`): `read_companies` gives it back."""
    parts = [
        company.ref or "",
        company.name,
        company.registration_number or "",
        company.country or "",
    ]
    while len(parts) > 2 and not parts[-1]:  # `ref; name` stay: a lone name would be a ref
        parts.pop()
    return ";".join(f" {part}" if index and part else part for index, part in enumerate(parts))


def write_companies(companies: Iterable[NewCompany]) -> str:
    """The affiliated companies, one line each."""
    return "\n".join(company_line(company) for company in companies)


def individual_line(person: NewIndividual, main_ref: str | None) -> str:
    """An individual as its line (`First Last <email>; born …; roles 25% @ref; …`), a relation
    to `main_ref` without `@ref`: `read_individuals` with `main_ref` gives it back."""
    first, last = person.first_name, person.last_name
    # `First Last` splits at the first space: a first name of several words needs the comma.
    head = f"{last}, {first}" if len(first.split()) > 1 else f"{first} {last}"
    if person.email is not None:
        head += f" <{person.email}>"
    parts = [head]
    if person.birth_date is not None:
        parts.append(f"born {person.birth_date.isoformat()}")
    for relation in person.relations:
        part = ", ".join(role.value for role in relation.roles)
        if relation.ownership_percentage is not None:
            part += f" {_percentage(relation.ownership_percentage)}%"
        if relation.source_company_ref != main_ref:
            part += f" @{relation.source_company_ref}"
        parts.append(part)
    return "; ".join(parts)


def write_individuals(people: Iterable[NewIndividual], main_ref: str | None) -> str:
    """The individuals, one line each (see `individual_line`)."""
    return "\n".join(individual_line(person, main_ref) for person in people)


def _percentage(value: float) -> str:
    """`40.0` as `40`, `12.5` as `12.5`, `1e-05` as `0.00001`: a line never reads exponents."""
    return format(Decimal(repr(value)), "f").removesuffix(".0")


@dataclass(frozen=True)
class RefusedCase:
    """A new case waiting in the outbox (parked, or never tried), as the form corrects it."""

    item_id: UUID
    new_case: NewCase
    """The case as queued."""
    reason: str | None
    """The API's message word for word (`None`: never refused)."""
    details: tuple[ErrorDetail, ...]
    """The field paths the API named (`external_id`, `companies.1.ref`)."""

    @classmethod
    def of(cls, item: OutboxEntry) -> Self:
        """The outbox item `item` (of kind `create_case`)."""
        error = item.last_error
        return cls(
            item_id=item.id,
            new_case=NewCase.model_validate(item.body),
            reason=error.message if error is not None else None,
            details=tuple(error.details) if error is not None else (),
        )


def fields_of(case: NewCase) -> dict[str, FieldValue]:
    """The form's fields holding `case`: what reads back into it (the inverse of `body`)."""
    values: dict[str, FieldValue] = {"name": case.name, "status": case.status}
    for key, value in (
        ("type", case.type),
        ("queue_id", None if case.queue_id is None else str(case.queue_id)),
        ("template_key", case.template_key),
        ("external_id", case.external_id),
    ):
        if value is not None:
            values[key] = value
    if case.tags:
        values["tags"] = ", ".join(case.tags)
    if case.metadata:
        values["metadata"] = "\n".join(f"{key}={value}" for key, value in case.metadata.items())
    main = next((c for c in case.companies if c.type is CompanyType.MAIN), None)
    if main is not None:
        values["companies.0.ref"] = main.ref or ""
        values["companies.0.name"] = main.name
        values["companies.0.registration_number"] = main.registration_number or ""
        values["companies.0.country"] = main.country or ""
    affiliated = [company for company in case.companies if company is not main]
    if affiliated:
        values[AFFILIATED] = write_companies(affiliated)
    if case.individuals:
        values["individuals"] = write_individuals(
            case.individuals, main.ref if main is not None else None
        )
    return values
