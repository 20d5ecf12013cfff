"""`CommentForm` (`c`): a message in the case's chat."""

from collections.abc import Iterable, Mapping

from casedesk.domain import limits
from casedesk.domain.actions import CaseAction, CommentAction
from casedesk.domain.enums import ActionType
from casedesk.tui.forms.base import ActionForm
from casedesk.tui.forms.fields import FieldValue, FormField, text_area

# TODO(issue 5, point 1): attachments — files picked by path with completion, each checked
# for existence and `limits.DOCUMENT_MAX_BYTES` before queueing, uploaded before the comment
# is sent. That needs the outbox to carry the upload step (store/ and sync/push); until
# then a comment is text only.


class CommentForm(ActionForm):
    """A multi-line message; the chat shows it (as pending) as soon as it is queued."""

    FORM = "comment"
    VERB = "Comment on"
    SUBMIT = "Send comment"

    def compose_fields(self) -> Iterable[FormField]:
        yield FormField(
            "body", "Message", text_area(), limit=limits.COMMENT_BODY_MAX, required=True
        )

    def build(self, values: Mapping[str, FieldValue]) -> CaseAction:
        return self.model(
            CommentAction, {"type": ActionType.COMMENT, "body": self.text(values["body"])}
        )
