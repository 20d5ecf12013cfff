"""`CaseOverview`: a case's fields, parameters, entities, tags, metadata and custom properties."""

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from casedesk.domain.case import Case, Individual
from casedesk.tui.widgets.case_format import NONE, CaseShown, custom_value, label, when
from casedesk.tui.widgets.case_section import CaseSection


class CaseOverview(CaseSection):
    """Everything the case object carries, read from the cache (never needs a fetch)."""

    def build(self, shown: CaseShown) -> RenderableType:
        case = shown.case
        return Group(
            self.heading("Fields"),
            self.fields(self._fields(shown)),
            Text(),
            self.heading("Parameters", len(case.parameters)),
            self._parameters(case),
            Text(),
            self.heading("Companies", len(case.companies)),
            self._companies(case),
            Text(),
            self.heading("Individuals", len(case.individuals)),
            self._individuals(case),
            Text(),
            self.heading("Tags", len(case.tags)),
            self._tags(case),
            Text(),
            self.heading("Metadata", len(case.metadata)),
            self._mapping({key: value for key, value in case.metadata.items()}),
            Text(),
            self.heading("Custom properties", len(case.custom_properties)),
            self._mapping({k: custom_value(v) for k, v in case.custom_properties.items()}),
        )

    def _value(self, value: str | None) -> Text:
        return self.text(NONE, "muted") if value is None or value == "" else self.text(value)

    def _fields(self, shown: CaseShown) -> list[tuple[str, Text]]:
        case, now = shown.case, shown.now
        assignee = f"{case.assignee.name} <{case.assignee.email}>" if case.assignee else None
        rows = [
            ("Type", self._value(case.type)),
            ("Entity", self._value(label(case.entity_category))),
            ("Queue", self._value(f"{case.queue.name} · {case.queue.workflow}")),
            ("Assignee", self._value(assignee)),
            ("Reporter", self._value(case.reporter.name if case.reporter else None)),
            ("Account", self._value(case.account.name if case.account else None)),
            ("External id", self._value(case.external_id)),
            ("Template", self._value(case.template_key)),
            ("Open alerts", self._value(str(case.open_alerts_count))),
            ("Entities", self._value(str(case.total_entities_count))),
            ("Awaiting reply", self._value("yes" if case.awaiting else "no")),
        ]
        if case.query_prompt:
            rows.append(("Query prompt", self.text(case.query_prompt, "accent")))
        rows += [
            ("Created", self._value(when(case.created_at, now))),
            ("Updated", self._value(when(case.updated_at, now))),
            ("Closed", self._value(when(case.closed_at, now) if case.closed_at else None)),
        ]
        return rows

    def _table(self, *columns: str) -> Table:
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, expand=True)
        for column in columns:
            table.add_column(self.text(column, "label"))
        return table

    def _parameters(self, case: Case) -> RenderableType:
        if not case.parameters:
            return self.notice("No parameters.")
        table = self._table("Name", "Value", "Scope", "Phase", "Visible to reporter", "External id")
        for parameter in case.parameters:
            value = parameter.value
            table.add_row(
                self.text(parameter.name),
                self._value(None if value is None else custom_value(value)),
                self.text(label(parameter.scope)),
                self.text(label(parameter.phase)),
                self.text("yes" if parameter.constraints.visible_to_reporter else "no"),
                self._value(parameter.external_id),
            )
        return table

    def _companies(self, case: Case) -> RenderableType:
        if not case.companies:
            return self.notice("No companies.")
        table = self._table("Name", "Type", "Registration", "Country", "Ref")
        for company in case.companies:
            table.add_row(
                self.text(company.name, "strong" if company.type.value == "main" else ""),
                self.text(label(company.type)),
                self._value(company.registration_number),
                self._value(company.country),
                self._value(company.ref),
            )
        return table

    def _individuals(self, case: Case) -> RenderableType:
        if not case.individuals:
            return self.notice("No individuals.")
        table = self._table("Name", "Born", "Email", "Relations")
        for person in case.individuals:
            table.add_row(
                self.text(f"{person.first_name} {person.last_name}"),
                self._value(person.birth_date.isoformat() if person.birth_date else None),
                self._value(person.email),
                self._relations(case, person),
            )
        return table

    def _relations(self, case: Case, person: Individual) -> Text:
        if not person.relations:
            return self.text(NONE, "muted")
        names = {company.ref: company.name for company in case.companies if company.ref}
        lines = Text()
        for index, relation in enumerate(person.relations):
            if index:
                lines.append("\n")
            roles = ", ".join(label(role) for role in relation.roles) or "related"
            share = relation.ownership_percentage
            lines.append(roles)
            if share is not None:
                lines.append(f" {share:g}%", style=self.tone("strong"))
            lines.append(" of ", style=self.tone("muted"))
            lines.append(names.get(relation.source_company_ref, relation.source_company_ref))
        return lines

    def _tags(self, case: Case) -> RenderableType:
        if not case.tags:
            return self.notice("No tags.")
        tags = Text()
        for index, tag in enumerate(case.tags):
            if index:
                tags.append("  ")
            tags.append(f"#{tag.label}", style=self.tone("accent"))
        return tags

    def _mapping(self, values: dict[str, str]) -> RenderableType:
        if not values:
            return self.notice("None.")
        width = min(max(len(key) for key in values), 28)
        return self.fields(
            [(key, self._value(value)) for key, value in sorted(values.items())],
            label_width=width,
        )
