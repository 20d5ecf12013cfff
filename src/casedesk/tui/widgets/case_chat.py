"""`CaseChat`: a case's messages, oldest first, with their documents."""

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from casedesk.domain.enums import MessageKind
from casedesk.domain.records import Message
from casedesk.tui.widgets.case_format import CaseShown, human_size, not_fetched, when
from casedesk.tui.widgets.case_section import CaseSection

INDENT = (0, 0, 0, 2)


class CaseChat(CaseSection):
    """The chat: author and time over each message; query prompts marked, system lines dimmed."""

    def build(self, shown: CaseShown) -> RenderableType:
        messages = shown.view.messages
        if messages is None:
            return self.notice(not_fetched("Chat", shown))
        if not messages:
            return self.notice("No messages yet.")
        parts: list[RenderableType] = []
        for message in sorted(messages, key=lambda m: m.created_at):
            parts.extend(self._message(message, shown))
        return Group(*parts)

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
            size = f"  {human_size(document.size)}"
            line = self.line("↳ ", (document.name, "accent"), (size, "muted"))
            parts.append(Padding(line, INDENT))
        parts.append(Text())
        return parts
