"""`CaseChat`: a case's messages, oldest first, with their documents."""

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from casedesk.domain.actions import CommentAction, QueryAction
from casedesk.domain.enums import MessageKind
from casedesk.domain.records import Message
from casedesk.sync.service import PendingAction
from casedesk.tui.widgets.case_format import (
    CaseShown,
    human_size,
    not_fetched,
    pending_state,
    when,
)
from casedesk.tui.widgets.case_section import CaseSection

INDENT = (0, 0, 0, 2)


class CaseChat(CaseSection):
    """The chat: author and time over each message; query prompts marked, system lines dimmed.

    Comments and queries still in the outbox follow the last message, marked
    pending (or parked, with the API's reason) until the server's copy lands.
    """

    def build(self, shown: CaseShown) -> RenderableType:
        messages = shown.view.messages
        waiting = [p for p in shown.pending if isinstance(p.action, CommentAction | QueryAction)]
        if messages is None and not waiting:
            return self.notice(not_fetched("Chat", shown))
        if not messages and not waiting:
            return self.notice("No messages yet.")
        parts: list[RenderableType] = []
        if messages is None:
            parts += [self.notice(not_fetched("Chat", shown)), Text()]
        for message in sorted(messages or (), key=lambda m: m.created_at):
            parts.extend(self._message(message, shown))
        for pending in waiting:
            parts.extend(self._pending(pending, shown))
        return Group(*parts)

    def _pending(self, pending: PendingAction, shown: CaseShown) -> list[RenderableType]:
        action = pending.action
        state, tone = pending_state(pending)
        head = self.line(
            (shown.people.name(pending.queued_by, nobody="you"), "strong"),
            "  ",
            (when(pending.created_at, shown.now), "muted"),
        )
        if isinstance(action, QueryAction):
            head.append_text(self.text("  ? query to the reporter", "accent"))
            text = action.prompt
        else:
            text = action.body if isinstance(action, CommentAction) else ""
        head.append_text(self.line("  ", (f"⧗ {state}", tone)))
        parts: list[RenderableType] = [head, Padding(self.text(text, "muted"), INDENT)]
        for staged in pending.attachments:
            parts.append(Padding(self._document_line(staged.name, staged.size), INDENT))
        parts.append(Text())
        return parts

    def _message(self, message: Message, shown: CaseShown) -> list[RenderableType]:
        system = message.kind is MessageKind.SYSTEM
        body_tone = "muted" if system else ""
        head = self.line(
            (message.author_name or "system", "muted" if system else "strong"),
            "  ",
            (when(message.created_at, shown.now), "muted"),
        )
        if message.author_id is None and not system:
            head.append_text(self.text("  reporter", "muted"))
        if message.kind is MessageKind.QUERY_PROMPT:
            head.append_text(self.text("  ? query to the reporter", "accent"))
        elif system:
            head.append_text(self.text("  system", "muted"))
        parts: list[RenderableType] = [head, Padding(self.text(message.body, body_tone), INDENT)]
        for document in message.documents:
            parts.append(Padding(self._document_line(document.name, document.size), INDENT))
        parts.append(Text())
        return parts

    def _document_line(self, name: str, size: int) -> Text:
        return self.line("↳ ", (name, "accent"), (f"  {human_size(size)}", "muted"))
