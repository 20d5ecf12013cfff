"""`UpdateEscalationForm` (`u` on the Escalations tab): a note, a follow-up, a new assignee —
for one escalation or several marked at once (CareValidate UPDATE_ESCALATION)."""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from textual.content import Content
from textual.widgets import Input, SelectionList
from textual.widgets.selection_list import Selection

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, UpdateEscalationAction
from casedesk.domain.case import Case
from casedesk.domain.enums import ActionType
from casedesk.domain.people import User
from casedesk.domain.records import Escalation
from casedesk.sync.service import CaseService
from casedesk.tui.forms.base import ActionForm, FormProblem
from casedesk.tui.forms.fields import (
    FieldValue,
    FormField,
    escalation_label,
    picker_problem,
    text_area,
)
from casedesk.tui.forms.people import UserPicker

DUE_FORMAT = "YYYY-MM-DD HH:MM"
DUE_HINT = (
    f"{DUE_FORMAT} in your local time (e.g. 2025-06-15 09:00), or ISO 8601 with an offset "
    "(2025-06-15T09:00:00Z). Empty: unchanged."
)
LOCAL_DUE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})\s*$")
ITEM_PATH = re.compile(r"^escalations\.\d+\.(note|follow_up_due_at|assigned_to_email)$")


def parse_due(text: str, now: datetime) -> datetime:
    """A follow-up instant from what the reviewer typed; `ValueError` says what to write."""
    match = LOCAL_DUE.match(text)
    try:
        if match:
            year, month, day, hour, minute = (int(part) for part in match.groups())
            moment = datetime(year, month, day, hour, minute).astimezone()
        else:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.astimezone()
    except ValueError:
        raise ValueError(
            f"Not a date and time: write it as {DUE_FORMAT} (your local time), "
            "e.g. 2025-06-15 09:00."
        ) from None
    if moment <= now:
        raise ValueError("In the past: a follow-up is due later than now.")
    return moment


class UpdateEscalationForm(ActionForm):
    """Mark one or more active escalations (Space), then say what changes for all of them."""

    FORM = "update_escalation"
    VERB = "Update escalations of"
    SUBMIT = "Update"

    def __init__(
        self,
        service: CaseService,
        *,
        case: Case,
        escalations: Sequence[Escalation],
        users: Sequence[User],
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(service, case=case)
        self.escalations = [e for e in escalations if not e.is_completed]
        self.users = list(users)
        self.clock = clock

    def intro(self) -> Content | None:
        if self.edited is not None and self.edited.data and "escalations" in self.edited.data:
            return Content(
                "The API lists the escalations that are active now: mark among them again."
            )
        return None

    def compose_fields(self) -> Iterable[FormField]:
        marked = len(self.escalations) == 1
        options: list[Selection[str]] = [
            Selection(escalation_label(e), str(e.id), marked) for e in self.escalations
        ]
        yield FormField(
            "escalations",
            "Escalations (Space marks; each change applies to every one marked)",
            SelectionList[str](*options),
            required=True,
        )
        yield FormField(
            "note", "Note (empty: unchanged)", text_area(), limit=limits.ESCALATION_NOTE_MAX
        )
        yield FormField(
            "follow_up_due_at", "Follow-up due", Input(placeholder=DUE_FORMAT), hint=DUE_HINT
        )
        yield FormField(
            "assigned_to_email",
            "Reassign to (empty: unchanged)",
            UserPicker(self.users),
            hint="Type part of a name or email; ↓/↑ and Enter pick.",
        )

    def route(self, path: str) -> str:
        """`escalations.2.note` is the one note field; any other item path, the list."""
        match = ITEM_PATH.match(path)
        if match:
            return match.group(1)
        return "escalations" if path.startswith("escalations") else path

    def fields_of(self, action: CaseAction) -> dict[str, FieldValue]:
        """The form's fields from a queued update (one change applied to every item)."""
        if not isinstance(action, UpdateEscalationAction) or not action.escalations:
            return {}
        first = action.escalations[0]
        values: dict[str, FieldValue] = {
            "escalations": [str(item.escalation_id) for item in action.escalations]
        }
        if first.note:
            values["note"] = first.note
        if first.follow_up_due_at is not None:
            values["follow_up_due_at"] = first.follow_up_due_at.astimezone().strftime(
                "%Y-%m-%d %H:%M"
            )
        email = (first.assigned_to_email or "").casefold()
        values["assigned_to_email"] = [str(u.id) for u in self.users if u.email.casefold() == email]
        return values

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        problems: list[tuple[str, str]] = []
        picked = picker_problem(self.fields["assigned_to_email"])
        if picked is not None:
            problems.append(picked)
        change: dict[str, object] = {}
        note = self.optional_text(values["note"])
        if note is not None:
            change["note"] = note
        due_text = self.text(values["follow_up_due_at"]).strip()
        if due_text:
            try:
                due = parse_due(due_text, self.clock())
            except ValueError as error:
                problems.append(("follow_up_due_at", str(error)))
            else:
                change["follow_up_due_at"] = due
        people = {str(u.id): u for u in self.users}
        chosen = [people[i] for i in self.ids(values["assigned_to_email"]) if i in people]
        if chosen:
            change["assigned_to_email"] = chosen[0].email
        marked = self.ids(values["escalations"])
        if not marked:
            problems.append(("escalations", "Mark at least one escalation (Space)."))
        if problems:
            raise FormProblem(*problems)
        if not change:
            raise FormProblem(("", "Nothing to change: write a note, a follow-up or a person."))
        items = [{"escalation_id": i, **change} for i in marked]
        return self.model(
            UpdateEscalationAction, {"type": ActionType.UPDATE_ESCALATION, "escalations": items}
        )
