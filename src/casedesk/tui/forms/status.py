"""`QueryForm` (`q`), `ResumeForm` (`s`), `ReopenForm` (`Ctrl+O`): the case's status moves."""

from collections.abc import Iterable, Mapping
from typing import ClassVar

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, QueryAction, ReopenAction, ResumeAction
from casedesk.domain.enums import ActionType
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.fields import FieldValue, FormField, text_area


class QueryForm(ActionForm):
    """Ask the other side a question: the case waits on them (querying, SLA paused)."""

    FORM = "query"
    VERB = "Query the other side on"
    SUBMIT = "Send query"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "prompt",
            "Question for the other side",
            text_area(),
            limit=limits.QUERY_PROMPT_MAX,
            required=True,
            hint="The case moves to querying and its SLA clock pauses until it is resumed.",
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        return self.model(
            QueryAction, {"type": ActionType.QUERY, "prompt": self.text(values["prompt"])}
        )


class _CommentedStatusForm(ActionForm):
    """A status change whose only field is an optional comment (resume, reopen)."""

    ACTION: ClassVar[type[ResumeAction] | type[ReopenAction]]

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "comment", "Comment (optional)", text_area(), limit=limits.DECISION_COMMENT_MAX
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        comment = self.optional_text(values["comment"])
        return self.model(self.ACTION, {"type": ActionType(self.FORM), "comment": comment})


class ResumeForm(_CommentedStatusForm):
    """Take a querying case back into work, with an optional comment."""

    FORM = "resume"
    VERB = "Resume"
    SUBMIT = "Resume case"
    ACTION = ResumeAction


class ReopenForm(_CommentedStatusForm):
    """Open a closed case again, with an optional comment."""

    FORM = "reopen"
    VERB = "Reopen"
    SUBMIT = "Reopen case"
    ACTION = ReopenAction
