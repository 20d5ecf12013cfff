"""`NewCaseForm` (`N` on the queue): a case to create through the outbox.

The form lays out `FormField`s as the action forms do, builds a `NewCase` with the
API's own model and checks the Dotfile cross-field rules (`new_case_problems`):
every error is shown under the field its path names, and nothing leaves the form
until the case is valid. The main company is one group of fields; individuals are
typed one per line (`First Last; role1,role2; ownership%`) and related to it by
its ref. What is typed is kept as the draft of "a new case" (no case id yet) and
restored when the form opens again; the queue screen clears it once the case is
durably queued.
"""

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from textual.content import Content
from textual.widgets import Input

from casedesk.domain import limits
from casedesk.domain.create import NewCase, new_case_problems
from casedesk.domain.enums import CompanyType
from casedesk.domain.people import Queue
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import FormProblem, error_message, error_path
from casedesk.tui.forms.fields import FieldValue, FormField, choices, text_area
from casedesk.tui.forms.screen import FormScreen

FORM = "new_case"
"""The drafts of this form are kept under (no case, this name)."""

INDIVIDUALS_HINT = (
    "One per line: First Last; role1,role2; ownership% — related to the main company "
    "(roles: shareholder, beneficial_owner, legal_representative, director)."
)


def _lines(text: str) -> list[tuple[int, str]]:
    """The non-blank lines of `text`, each with its line number (from 1)."""
    return [
        (number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()
    ]


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
        self._individual_lines: list[int] = []
        """The line number (from 1) of each individual built, by index."""
        self._metadata_lines: dict[str, int] = {}

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
            hint="How the individuals below name this company.",
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
        yield FormField("individuals", "Individuals", text_area(), hint=INDIVIDUALS_HINT)

    def title_content(self) -> Content:
        return Content.assemble(("New case", "bold"))

    @property
    def draft_place(self) -> tuple[UUID | None, str]:
        return None, FORM

    def typed(self, values: dict[str, FieldValue]) -> dict[str, FieldValue]:
        # The status choice is always set: alone, it is not something typed.
        return {path: value for path, value in values.items() if path != "status"}

    def on_mount(self) -> None:
        saved = self.service.draft(None, FORM)
        fields = self.fields
        for path, field in fields.items():
            if saved and path in saved:
                field.set_value(saved[path])
        if fields["status"].empty:
            fields["status"].set_value("open")
        self._saved = self.values()
        fields["name"].editor.focus()

    # -- building the case -------------------------------------------------------------

    @staticmethod
    def _text(value: FieldValue) -> str:
        return value.strip() if isinstance(value, str) else ""

    def _optional(self, value: FieldValue) -> str | None:
        return self._text(value) or None

    def body(
        self, values: Mapping[str, FieldValue]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The request body from the fields, and what the form itself finds wrong."""
        problems: list[tuple[str, str]] = []
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
        metadata: dict[str, str] = {}
        self._metadata_lines = {}
        for number, line in _lines(self._text(values.get("metadata"))):
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                problems.append(("metadata", f"Line {number}: write key=value."))
                continue
            if key.strip() in metadata:
                problems.append(("metadata", f"Line {number}: {key.strip()!r} is given twice."))
            metadata[key.strip()] = value.strip()
            self._metadata_lines[key.strip()] = number
        if metadata:
            body["metadata"] = metadata
        ref = self._optional(values.get("companies.0.ref"))
        company = {
            "ref": ref,
            "name": self._text(values.get("companies.0.name")),
            "registration_number": self._optional(values.get("companies.0.registration_number")),
            "country": self._optional(values.get("companies.0.country")),
        }
        if any(company.values()):
            company["type"] = CompanyType.MAIN.value
            body["companies"] = [{k: v for k, v in company.items() if v is not None}]
        individuals: list[dict[str, Any]] = []
        self._individual_lines = []
        for number, line in _lines(self._text(values.get("individuals"))):
            individuals.append(self._individual(line, ref, number, problems))
            self._individual_lines.append(number)
        if individuals:
            body["individuals"] = individuals
            if any(person.get("relations") for person in individuals) and ref is None:
                problems.append(
                    ("companies.0.ref", "Required: the individuals are related to it by this ref.")
                )
        return body, problems

    @staticmethod
    def _individual(
        line: str, ref: str | None, number: int, problems: list[tuple[str, str]]
    ) -> dict[str, Any]:
        parts = [part.strip() for part in line.split(";")]
        if len(parts) > 3:
            problems.append(("individuals", f"Line {number}: at most three parts split by ';'."))
        names = parts[0].split(maxsplit=1)
        person: dict[str, Any] = {
            "first_name": names[0] if names else "",
            "last_name": names[1] if len(names) > 1 else "",
        }
        roles = [
            role.strip().casefold().replace(" ", "_").replace("-", "_")
            for role in (parts[1] if len(parts) > 1 else "").split(",")
            if role.strip()
        ]
        share = parts[2].removesuffix("%").strip() if len(parts) > 2 else ""
        if roles or share:
            relation: dict[str, Any] = {"roles": roles}
            if ref is not None:
                relation["source_company_ref"] = ref
            if share:
                try:
                    relation["ownership_percentage"] = float(share.replace(",", "."))
                except ValueError:
                    relation["ownership_percentage"] = share  # the model says what is wrong
            person["relations"] = [relation]
        return person

    def build(self, values: Mapping[str, FieldValue]) -> NewCase:
        """The case from the fields; raises `FormProblem` with every problem found."""
        body, problems = self.body(values)
        try:
            case = NewCase.model_validate(body)
        except ValidationError as error:
            problems.extend((error_path(e), error_message(e)) for e in error.errors())
            raise FormProblem(*problems) from None
        problems.extend(
            (problem.path, problem.message[:1].upper() + problem.message[1:] + ".")
            for problem in new_case_problems(case)
        )
        if problems:
            raise FormProblem(*problems)
        return case

    # -- errors --------------------------------------------------------------------------

    def place(self, path: str, message: str) -> tuple[str, str]:
        """The field a problem belongs to, and its message as shown there."""
        parts = path.split(".")
        if parts[0] == "individuals" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            number = (
                self._individual_lines[index] if index < len(self._individual_lines) else index + 1
            )
            if "source_company_ref" in parts:
                return "companies.0.ref", f"Line {number} of the individuals: {message}"
            what = parts[-1] if not parts[-1].isdigit() else ".".join(parts[2:])
            return "individuals", f"Line {number} ({what}): {message}"
        if parts[0] == "metadata" and len(parts) > 1:
            line = self._metadata_lines.get(parts[1])
            return "metadata", f"Line {line}: {message}" if line else message
        if path == "companies" or (parts[0] == "companies" and parts[-1] == "type"):
            return "companies.0.name", message
        if parts[0] == "tags" and len(parts) > 1 and parts[1].isdigit():
            return "tags", f"Tag {int(parts[1]) + 1}: {message}"
        return path, message

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
        shown: dict[str, list[str]] = {}
        unplaced: list[str] = []
        for raw_path, raw_message in problems:
            path, message = self.place(raw_path, raw_message)
            field = self._field_for(path, fields)
            if field is None:
                unplaced.append(f"{raw_path}: {raw_message}" if raw_path else raw_message)
            elif message not in shown.setdefault(field.path, []):
                shown[field.path].append(message)
        first: FormField | None = None
        for field in fields.values():  # in Tab order: the first invalid one gets the focus
            messages = shown.get(field.path)
            if messages:
                field.show_error("\n".join(messages))
                first = first or field
        self._show_form_error(unplaced)
        if first is not None:
            first.editor.focus()
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
