"""The command palette (Ctrl+P): find a case by reference or name, or run a screen's action.

Case names come from the server: they are shown as `Content(text)`, never
through `matcher.highlight` or a `str` display (both parse markup).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import Hit, Hits, Provider
from textual.content import Content

from casedesk.domain.query import fold

MAX_CASE_HITS = 30


class CaseCommands(Provider):
    """Cases by reference or name, and the actions the current screen offers."""

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for description, run in self._actions():
            score = matcher.match(description)
            if score > 0:
                yield Hit(score, Content(description), run, text=description, help="action")
        needle = fold(query.strip())
        if len(needle) < 2:
            return
        # Plain substring first: fuzzy-scoring 50,000 names per keystroke would be too slow.
        found = 0
        for row in self._rows():
            if needle in row.reference.casefold() or needle in fold(row.name):
                text = f"{row.reference}  {row.name}"
                # No `help=`: Textual parses it as markup, and queue names come from the server.
                shown = Content(text) + Content(f"  · {row.status.value} · {row.queue_name}")
                yield Hit(
                    max(matcher.match(text), 0.1),
                    shown.stylize("dim", len(text)),
                    partial(self._open, row.id),
                    text=text,
                )
                found += 1
                if found >= MAX_CASE_HITS:
                    return

    def _rows(self) -> list[Any]:
        rows: Callable[[], list[Any]] | None = getattr(self.app, "queue_rows", None)
        return rows() if rows is not None else []

    def _actions(self) -> list[tuple[str, Callable[[], Any]]]:
        actions: list[tuple[str, Callable[[], Any]]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description or not active.enabled or binding.action in seen:
                continue
            seen.add(binding.action)
            actions.append((binding.description, partial(self._run, active.node, binding.action)))
        return actions

    async def _run(self, node: Any, action: str) -> None:
        await self.app.run_action(action, node)

    def _open(self, case_id: Any) -> None:
        opener: Callable[[Any], None] | None = getattr(self.app, "open_case", None)
        if opener is not None:
            opener(case_id)
