"""`CommentForm` (`c`): a message in the case's chat, with files attached."""

from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, CommentAction
from casedesk.domain.enums import ActionType
from casedesk.tui.forms.base import ActionForm, FormProblem, error_message, error_path
from casedesk.tui.forms.fields import FieldValue, FormField, picker_problem, text_area
from casedesk.tui.forms.files import FilePicker

FILES = "document_ids"
"""The attachments field: the API names its errors by this path."""


class CommentForm(ActionForm):
    """A multi-line message and up to `COMMENT_DOCUMENTS_MAX` files; the chat shows it (as
    pending) as soon as it is queued. The files are copied in when it is queued and
    uploaded before the comment is sent, so moving them afterwards loses nothing."""

    FORM = "comment"
    VERB = "Comment on"
    SUBMIT = "Send comment"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "body", "Message", text_area(), limit=limits.COMMENT_BODY_MAX, required=True
        )
        megabytes = limits.DOCUMENT_MAX_BYTES / (1024 * 1024)
        yield FormField(
            FILES,
            "Attachments",
            FilePicker(self.service.attachment_problem, limit=limits.COMMENT_DOCUMENTS_MAX),
            hint=(
                f"Up to {limits.COMMENT_DOCUMENTS_MAX} files of at most {megabytes:g} MB each; "
                "Enter on an attached path removes it."
            ),
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        problems: list[tuple[str, str]] = []
        unattached = picker_problem(self.fields[FILES])
        if unattached is not None:
            problems.append(unattached)
        for index, path in enumerate(self.files(values)):
            problem = self.service.attachment_problem(path)
            if problem is not None:  # it was fine when attached, but files move
                problems.append((f"{FILES}.{index}", problem))
        try:
            action = self.model(
                CommentAction, {"type": ActionType.COMMENT, "body": self.text(values["body"])}
            )
        except ValidationError as error:
            problems[:0] = [(error_path(e), error_message(e)) for e in error.errors()]
        if problems:
            raise FormProblem(*problems)
        return action

    @staticmethod
    def files(values: Mapping[str, FieldValue]) -> list[str]:
        paths = values.get(FILES)
        return [str(path) for path in paths] if isinstance(paths, list) else []

    async def prepare(self, action: CaseAction) -> CaseAction:
        paths = self.files(self.values())
        if not paths:
            return action
        try:
            copies = await self.service.stage_attachments(paths)
        except (ValueError, OSError) as error:
            raise FormProblem((FILES, f"Could not keep a copy to send: {error}")) from None
        return action.model_copy(update={"document_ids": copies})

    def fields_of(self, action: CaseAction) -> dict[str, FieldValue]:
        values = super().fields_of(action)
        if isinstance(action, CommentAction):  # a refused comment: its files as attached
            values[FILES] = [
                staged.source for staged in self.service.staged_files(action.document_ids)
            ]
        return values
