"""`NewCaseForm` (`N` on the queue): a case to create through the outbox.

The form lays out `FormField`s as the action forms do, builds a `NewCase` with the
API's own model and checks the Dotfile cross-field rules (`new_case_problems`):
every problem is shown under the field its path names — on its line for the
fields typed one item per line — and nothing leaves the form until the case is
valid. The main company is one group of fields; the affiliated companies and the
individuals are typed one per line (`new_case_lines` reads them: `ref; name;
registration number; country` and `First Last <email>; born YYYY-MM-DD; roles
25% @ref; …`). What is typed is kept as the draft of "a new case" (no case id
yet) and restored when the form opens again; the queue screen clears it once the
case is durably queued.

A case the API refused (parked in the outbox) reopens in this form to be corrected
(`NewCaseForm.edit`): its fields as queued (`fields_of`, the inverse of reading them),
the API's message under the fields and lines its paths name, and a draft of its own
(`new_case@<item id>`), apart from the text of a new case.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Self
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from textual.content import Content
from textual.widgets import Input, TextArea

from casedesk.domain import limits
from casedesk.domain.create import NewCase, Problem, new_case_problems
from casedesk.domain.enums import CompanyType
from casedesk.domain.people import Queue
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import FormProblem, error_message, error_path
from casedesk.tui.forms.fields import FieldValue, FormField, choices, text_area
from casedesk.tui.forms.new_case_lines import (
    ROLES,
    Line,
    company_part,
    country_code,
    numbered_lines,
    on_line,
    person_part,
    read_companies,
    read_individuals,
    rules_probe,
)
from casedesk.tui.forms.new_case_writing import AFFILIATED, RefusedCase, fields_of
from casedesk.tui.forms.screen import FormScreen

__all__ = ["AFFILIATED", "FORM", "NewCaseForm", "RefusedCase", "fields_of"]

FORM = "new_case"
"""The drafts of this form are kept under (no case, this name)."""

AFFILIATED_HINT = (
    "One per line: ref; name; registration number; country — "
    f"up to {limits.COMPANIES_MAX - 1} of them."
)
INDIVIDUALS_HINT = (
    "One per line: First Last <email>; born YYYY-MM-DD; roles 25% @ref; … (one roles part "
    "per company, no @ref: the main one). Roles: " + ", ".join(ROLES) + "."
)
AFFILIATED_EXAMPLE = "sub; Nordwind Logistics GmbH; HRB 98765; DE"
INDIVIDUALS_EXAMPLE = (
    "Ada Lovelace <ada@example.com>; born 1815-12-10; director, shareholder 40%; "
    "beneficial_owner @sub"
)

SHOWN_PER_FIELD = 6
"""Messages shown under one field; the rest are counted."""

_MAIN = ("companies.0", 0)
"""Where the main company is typed: its own fields, no line."""
_FIELD = "field:"
"""Before the path of a problem the form places itself: a field, not a path of the API
(`companies.0.ref` of the API is an affiliated company's when there is no main one)."""


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _number(value: object) -> str:
    """`100.0` as `100`, `12.5` as `12.5`."""
    return f"{value:g}" if isinstance(value, int | float) else str(value)


class NewCaseForm(FormScreen[NewCase]):
    """The fields of `POST /v1/cases`; dismisses with a valid `NewCase`, or `None` on Esc."""

    SUBMIT = "Create case"

    DEFAULT_CSS = """
    NewCaseForm TextArea {
        height: 5;
    }
    """

    def __init__(self, service: CaseService, *, queues: list[Queue] | None = None) -> None:
        super().__init__(service)
        self.queues = list(service.queues() if queues is None else queues)
        self._companies: list[tuple[str, int]] = []
        """Where each company built was typed, by index: (field, line number from 1)."""
        self._people: list[Line] = []
        """Each individual built, by index, with its line."""
        self._metadata_lines: dict[str, int] = {}
        self.edited: RefusedCase | None = None
        """The new case in the outbox this form corrects, if it does."""

    def edit(self, refused: RefusedCase) -> Self:
        """Open on a case already in the outbox: its fields as queued, the API's errors under
        the fields they name. Submitting replaces it (whoever opened the form does that)."""
        self.edited = refused
        return self

    @property
    def draft_key(self) -> str:
        """Under which name the draft is kept: a correction has its own, apart from new text."""
        return FORM if self.edited is None else f"{FORM}@{self.edited.item_id}"

    # -- layout ------------------------------------------------------------------------

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField("name", "Name", Input(), limit=limits.CASE_NAME_MAX, required=True)
        yield FormField("type", "Type", Input(), limit=limits.CASE_TYPE_MAX)
        if self.queues:
            yield FormField(
                "queue_id",
                "Queue",
                choices((str(queue.id), queue.name) for queue in self.queues),
                hint="The organization's first queue when none is chosen.",
            )
        yield FormField("status", "Status", choices([("open", "Open"), ("draft", "Draft")]))
        yield FormField("template_key", "Template key", Input(), limit=limits.TEMPLATE_KEY_MAX)
        yield FormField("external_id", "External id", Input(), limit=limits.EXTERNAL_ID_MAX)
        yield FormField("tags", "Tags", Input(), hint="Comma-separated labels.")
        yield FormField("metadata", "Metadata", text_area(), hint="One key=value per line.")
        yield FormField(
            "companies.0.ref",
            "Main company — ref",
            Input(),
            limit=limits.REF_MAX,
            hint="How the lines below name this company (@ref); no @ref means this one.",
        )
        yield FormField(
            "companies.0.name", "Main company — name", Input(), limit=limits.COMPANY_NAME_MAX
        )
        yield FormField(
            "companies.0.registration_number",
            "Main company — registration number",
            Input(),
            limit=limits.REGISTRATION_NUMBER_MAX,
        )
        yield FormField(
            "companies.0.country",
            "Main company — country",
            Input(),
            hint="ISO 3166-1 alpha-2, such as FR or GB.",
        )
        yield FormField(
            AFFILIATED,
            "Affiliated companies",
            self._lines_editor(AFFILIATED_EXAMPLE),
            hint=AFFILIATED_HINT,
        )
        yield FormField(
            "individuals",
            "Individuals",
            self._lines_editor(INDIVIDUALS_EXAMPLE),
            hint=INDIVIDUALS_HINT,
        )

    @staticmethod
    def _lines_editor(example: str) -> TextArea:
        editor = text_area()
        editor.placeholder = Content(example)
        return editor

    def title_content(self) -> Content:
        if self.edited is None:
            return Content.assemble(("New case", "bold"))
        what = "Correct a refused case" if self.edited.reason else "Edit a queued case"
        return Content.assemble((what, "bold"), " — ", self.edited.new_case.name)

    @property
    def draft_place(self) -> tuple[UUID | None, str]:
        return None, self.draft_key

    def typed(self, values: dict[str, FieldValue]) -> dict[str, FieldValue]:
        # The status choice is always set: alone, it is not something typed.
        return {path: value for path, value in values.items() if path != "status"}

    def on_mount(self) -> None:
        saved = self.service.draft(None, self.draft_key)
        if saved is None and self.edited is not None:
            saved = fields_of(self.edited.new_case)
        fields = self.fields
        for path, field in fields.items():
            if saved and path in saved:
                field.set_value(saved[path])
        if fields["status"].empty:
            fields["status"].set_value("open")
        self._saved = self.values()
        fields["name"].editor.focus()
        if self.edited is not None:
            self._show_refusal(self.edited)

    def _show_refusal(self, refused: RefusedCase) -> None:
        """The API's message above the buttons, its details under the fields and lines named."""
        if refused.reason is None and not refused.details:
            return
        self.body(self.values())  # where each company and individual is typed, for `place`
        problems = [("", f"Refused by the API: {refused.reason or 'no reason given'}")]
        problems += [(detail.path, _sentence(detail.message)) for detail in refused.details]
        self.show_errors(problems)

    # -- building the case -------------------------------------------------------------

    @staticmethod
    def _text(value: FieldValue) -> str:
        return value.strip() if isinstance(value, str) else ""

    def _optional(self, value: FieldValue) -> str | None:
        return self._text(value) or None

    def body(
        self, values: Mapping[str, FieldValue]
    ) -> tuple[dict[str, Any], list[tuple[str, str]], set[str]]:
        """The request body from the fields, what the form itself finds wrong, and the
        API paths those problems already explain (the model's word on them is not repeated).
        """
        problems: list[tuple[str, str]] = []
        covered: set[str] = set()
        body: dict[str, Any] = {
            "name": values.get("name") if isinstance(values.get("name"), str) else "",
            "status": self._optional(values.get("status")) or "open",
        }
        for key in ("type", "queue_id", "template_key", "external_id"):
            text = self._optional(values.get(key))
            if text is not None:
                body[key] = text
        tags = [tag.strip() for tag in self._text(values.get("tags")).split(",") if tag.strip()]
        if tags:
            body["tags"] = tags
        metadata = self._metadata(self._text(values.get("metadata")), problems)
        if metadata:
            body["metadata"] = metadata
        main_ref = self._optional(values.get("companies.0.ref"))
        companies = self._company_bodies(values, main_ref, problems, covered)
        if companies:
            body["companies"] = companies
        individuals = self._individual_bodies(values, main_ref, problems, covered)
        if individuals:
            body["individuals"] = individuals
        return body, problems, covered

    def _metadata(self, text: str, problems: list[tuple[str, str]]) -> dict[str, str]:
        metadata: dict[str, str] = {}
        self._metadata_lines = {}
        for number, line in numbered_lines(text):
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                problems.append(("metadata", f"Line {number}: write key=value."))
                continue
            if key.strip() in metadata:
                problems.append(("metadata", f"Line {number}: {key.strip()!r} is given twice."))
            metadata[key.strip()] = value.strip()
            self._metadata_lines[key.strip()] = number
        return metadata

    def _company_bodies(
        self,
        values: Mapping[str, FieldValue],
        main_ref: str | None,
        problems: list[tuple[str, str]],
        covered: set[str],
    ) -> list[dict[str, Any]]:
        companies: list[dict[str, Any]] = []
        self._companies = []
        country = self._optional(values.get("companies.0.country"))
        main = {
            "ref": main_ref,
            "name": self._text(values.get("companies.0.name")),
            "registration_number": self._optional(values.get("companies.0.registration_number")),
            "country": None if country is None else country_code(country),
        }
        if any(main.values()):
            main["type"] = CompanyType.MAIN.value
            companies.append({k: v for k, v in main.items() if v is not None})
            self._companies.append(_MAIN)
        for line in read_companies(self._text(values.get(AFFILIATED))):
            path = f"companies.{len(companies)}"
            companies.append(line.body)
            self._companies.append((AFFILIATED, line.number))
            for problem in line.problems:
                at = f"{path}.{problem.path}" if problem.path else path
                problems.append((at, problem.message))
                covered.add(at)
        if len(companies) > limits.COMPANIES_MAX:
            problems.append(
                (
                    AFFILIATED,
                    f"{len(companies)} companies, the main one included: "
                    f"at most {limits.COMPANIES_MAX}.",
                )
            )
        return companies

    def _individual_bodies(
        self,
        values: Mapping[str, FieldValue],
        main_ref: str | None,
        problems: list[tuple[str, str]],
        covered: set[str],
    ) -> list[dict[str, Any]]:
        self._people = read_individuals(self._text(values.get("individuals")), main_ref)
        unnamed_main: list[int] = []
        for index, person in enumerate(self._people):
            path = f"individuals.{index}"
            for problem in person.problems:
                at = f"{path}.{problem.path}" if problem.path else path
                problems.append((at, problem.message))
                covered.add(at)
            for rel_index, relation in enumerate(person.body.get("relations", [])):
                if "source_company_ref" not in relation:
                    covered.add(f"{path}.relations.{rel_index}.source_company_ref")
                    if person.number not in unnamed_main:
                        unnamed_main.append(person.number)
        if unnamed_main:
            lines = ", ".join(str(number) for number in unnamed_main)
            which = (
                f"line {lines} of the individuals relates"
                if len(unnamed_main) == 1
                else f"lines {lines} of the individuals relate"
            )
            problems.append(
                (
                    f"{_FIELD}companies.0.ref",
                    f"Required: {which} to the main company by its ref "
                    "(or name another company there with @ref).",
                )
            )
        if len(self._people) > limits.INDIVIDUALS_MAX:
            problems.append(
                (
                    "individuals",
                    f"{len(self._people)} individuals: at most {limits.INDIVIDUALS_MAX}.",
                )
            )
        return [person.body for person in self._people]

    def build(self, values: Mapping[str, FieldValue]) -> NewCase:
        """The case from the fields; raises `FormProblem` with every problem found."""
        body, problems, covered = self.body(values)
        case: NewCase | None = None
        try:
            case = NewCase.model_validate(body)
        except ValidationError as error:
            for details in error.errors():
                path = error_path(details)
                if details["type"] == "too_long" and path in ("companies", "individuals"):
                    continue  # counted on the lines' field already
                if path not in covered:
                    problems.append((path, self._model_message(path, details)))
        for rule in new_case_problems(case if case is not None else rules_probe(body)):
            if rule.path not in covered:
                problems.append((rule.path, self._rule_message(rule, body)))
        if problems or case is None:
            raise FormProblem(*problems)
        return case

    @staticmethod
    def _model_message(path: str, error: ErrorDetails) -> str:
        """The model's error in the words of this form."""
        context: dict[str, Any] = dict(error.get("ctx") or {})
        if path.endswith(".country") and error["type"] == "string_pattern_mismatch":
            return f"{error.get('input')!r} is not two letters (ISO 3166-1 alpha-2), such as DE."
        if path.endswith(".ownership_percentage"):
            given = _number(error.get("input"))
            if "le" in context:
                return f"At most {_number(context['le'])}% ({given}% given)."
            if "ge" in context:
                return f"At least {_number(context['ge'])}% ({given}% given)."
        return error_message(error)

    def _rule_message(self, rule: Problem, body: Mapping[str, Any]) -> str:
        """A cross-field rule broken, said so that the reviewer knows what to type."""
        parts = rule.path.split(".")
        companies: list[dict[str, Any]] = body.get("companies", [])
        refs = [company["ref"] for company in companies if company.get("ref")]
        if rule.path == "companies":
            mains = sum(1 for company in companies if company["type"] == CompanyType.MAIN.value)
            if mains == 0:
                return "Required: the companies of a case include exactly one main company."
        elif parts[0] == "companies" and parts[-1] == "ref":
            index = int(parts[1])
            ref = companies[index].get("ref")
            holder = next(
                (
                    position
                    for position, company in enumerate(companies)
                    if company.get("ref") == ref and position != index
                ),
                None,
            )
            if holder is not None:
                where = self._where(holder)
                return f"The ref {ref!r} is taken by {where}: each company needs its own."
        elif parts[0] == "individuals" and parts[-1] == "source_company_ref":
            person = body["individuals"][int(parts[1])]
            ref = person["relations"][int(parts[3])].get("source_company_ref")
            known = ", ".join(repr(name) for name in dict.fromkeys(refs)) or "none yet"
            return f"No company has the ref {ref!r} (the refs: {known})."
        return _sentence(rule.message)

    def _where(self, index: int) -> str:
        field, number = self._companies[index]
        return "the main company" if field == _MAIN[0] else f"line {number}"

    # -- errors --------------------------------------------------------------------------

    def place(self, path: str, message: str) -> tuple[str, str, int | None]:
        """The field a problem belongs to, its message as shown there, and its line."""
        if path.startswith(_FIELD):
            return path.removeprefix(_FIELD), message, None
        parts = path.split(".")
        if parts[0] == "companies" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            field, number = self._companies[index] if index < len(self._companies) else _MAIN
            rest = ".".join(parts[2:])
            if field == _MAIN[0]:
                target = f"companies.0.{rest}" if rest and rest != "type" else "companies.0.name"
                return target, message, None
            what = company_part(rest)
            return AFFILIATED, on_line(number, what, message), number
        if path == "companies":
            return "companies.0.name", message, None
        if parts[0] == "individuals" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            person = self._people[index] if index < len(self._people) else None
            number = person.number if person is not None else index + 1
            return (
                "individuals",
                on_line(number, person_part(person, parts[2:]), message),
                number,
            )
        if parts[0] == "metadata" and len(parts) > 1:
            line = self._metadata_lines.get(parts[1])
            return "metadata", f"Line {line}: {message}" if line else message, line
        if parts[0] == "tags" and len(parts) > 1 and parts[1].isdigit():
            return "tags", f"Tag {int(parts[1]) + 1}: {message}", None
        return path, message, None

    def validate_case(self) -> NewCase | None:
        """The case, or `None` with every problem shown under its field."""
        self.clear_errors()
        try:
            return self.build(self.values())
        except FormProblem as problem:
            self.show_errors(problem.problems)
        return None

    def show_errors(self, problems: Iterable[tuple[str, str]]) -> None:
        fields = self.fields
        shown: dict[str, list[tuple[int, str]]] = {}
        first_line: dict[str, int] = {}
        unplaced: list[str] = []
        for raw_path, raw_message in problems:
            path, message, line = self.place(raw_path, raw_message)
            field = self._field_for(path, fields)
            if field is None:
                unplaced.append(f"{raw_path}: {raw_message}" if raw_path else raw_message)
                continue
            if all(message != known for _, known in shown.setdefault(field.path, [])):
                shown[field.path].append((line or 0, message))
            if line is not None:
                first_line[field.path] = min(line, first_line.get(field.path, line))
        first: FormField | None = None
        for field in fields.values():  # in Tab order: the first invalid one gets the focus
            if field.path in shown:
                # Line by line, whatever found each problem (the lines, the model, the rules).
                messages = [message for _, message in sorted(shown[field.path], key=lambda m: m[0])]
                more = len(messages) - SHOWN_PER_FIELD
                if more > 0:
                    messages = [*messages[:SHOWN_PER_FIELD], f"… and {more} more."]
                field.show_error("\n".join(messages))
                first = first or field
        self._show_form_error(unplaced)
        if first is not None:
            editor = first.editor
            editor.focus()
            if isinstance(editor, TextArea) and first.path in first_line:
                row = first_line[first.path] - 1  # the cursor on the first line to mend
                editor.move_cursor((row, len(editor.document.get_line(row))))
            first.scroll_visible()

    async def action_submit(self) -> None:
        """Build the case; on problems show them by their fields, else return it (once)."""
        if self.submitted:
            return
        case = self.validate_case()
        if case is None:
            return
        self._lock(True)
        await self._finish(case)  # the draft holds the case until it is queued
