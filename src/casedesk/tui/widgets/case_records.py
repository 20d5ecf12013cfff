"""`CaseEscalations`, `CaseOverrides`, `CaseActivity`: what was raised, proposed and done."""

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from casedesk.domain.actions import EscalateAction
from casedesk.domain.enums import ActionType, OverrideStatus, ProposedDecision
from casedesk.domain.records import Escalation, Override
from casedesk.domain.sla import countdown
from casedesk.sync.service import PendingAction
from casedesk.tui.widgets.case_format import (
    NONE,
    CaseShown,
    label,
    not_fetched,
    payload_summary,
    pending_state,
    pending_summary,
    when,
)
from casedesk.tui.widgets.case_section import CaseSection

INDENT = (0, 0, 1, 2)
OVERRIDE_TONES = {
    OverrideStatus.PENDING: "warn",
    OverrideStatus.ACCEPTED: "good",
    OverrideStatus.REFUSED: "bad",
    OverrideStatus.CANCELLED: "muted",
}
ESCALATION_ACTIONS = frozenset(
    {ActionType.ESCALATE, ActionType.UPDATE_ESCALATION, ActionType.COMPLETE_ESCALATION}
)
OVERRIDE_ACTIONS = frozenset(
    {
        ActionType.REQUEST_OVERRIDE,
        ActionType.ACCEPT_OVERRIDE,
        ActionType.REFUSE_OVERRIDE,
        ActionType.CANCEL_OVERRIDE,
    }
)


def _pending_of(shown: CaseShown, kinds: frozenset[ActionType]) -> list[PendingAction]:
    return [p for p in shown.pending if p.action.type in kinds]


class CaseEscalations(CaseSection):
    """Escalations, active ones first; an overdue follow-up is marked.

    Escalation actions still in the outbox come first, marked pending or parked.
    """

    def build(self, shown: CaseShown) -> RenderableType:
        escalations = shown.view.escalations
        waiting = _pending_of(shown, ESCALATION_ACTIONS)
        parts: list[RenderableType] = [self._pending(p, shown) for p in waiting]
        if escalations is None:
            return Group(*parts, self.notice(not_fetched("Escalations", shown)))
        if not escalations:
            return Group(*parts, self.notice("No escalations."))
        ordered = sorted(escalations, key=lambda e: e.created_at, reverse=True)
        ordered.sort(key=lambda e: e.is_completed)  # stable: active first, newest first in each
        for escalation in ordered:
            parts += [self._head(escalation), Padding(self._body(escalation, shown), INDENT)]
        return Group(*parts)

    def _pending(self, pending: PendingAction, shown: CaseShown) -> RenderableType:
        state, tone = pending_state(pending)
        action = pending.action
        if not isinstance(action, EscalateAction):
            summary = pending_summary(pending, shown.people)
            return Group(self.line((f"⧗ {state}", tone), "  ", summary), Text())
        head = self.line((f"▲ {state}", tone), "  ", ("new escalation", "strong"))
        rows = [("Reason", self.text(action.reason))]
        if action.escalate_to is not None:
            rows.append(("Assigned to", self.text(shown.people.name(action.escalate_to))))
        return Group(head, Padding(self.fields(rows, label_width=14), INDENT))

    def _head(self, escalation: Escalation) -> Text:
        state = ("✓ completed", "muted") if escalation.is_completed else ("▲ active", "warn")
        return self.line(state, "  ", (escalation.title, "strong"))

    def _body(self, escalation: Escalation, shown: CaseShown) -> Table:
        people, now = shown.people, shown.now
        rows: list[tuple[str, Text]] = []
        if escalation.reason.strip() != escalation.title.strip():
            rows.append(("Reason", self.text(escalation.reason)))
        rows.append(("Note", self._maybe(escalation.note)))
        rows.append(("Follow-up due", self._due(escalation, shown)))
        rows.append(("Assigned to", self.text(people.name(escalation.assigned_to_user_id))))
        raised = f"{people.name(escalation.created_by_id)}, {when(escalation.created_at, now)}"
        rows.append(("Raised by", self.text(raised)))
        if escalation.is_completed:
            rows.append(("Completed", self.text(when(escalation.completed_at, now))))
        return self.fields(rows, label_width=14)

    def _maybe(self, value: str | None) -> Text:
        return self.text(NONE, "muted") if not value else self.text(value)

    def _due(self, escalation: Escalation, shown: CaseShown) -> Text:
        due = escalation.follow_up_due_at
        if due is None:
            return self.text(NONE, "muted")
        moment = when(due, shown.now)
        if escalation.is_completed:
            return self.text(moment)
        if due <= shown.now:
            late = countdown(shown.now, due).removeprefix("-")
            return self.line((moment, "bad"), (f"  overdue by {late}", "bad"))
        return self.line(moment, (f"  in {countdown(due, shown.now)}", "muted"))


class CaseOverrides(CaseSection):
    """Override requests, pending first, with their outcome."""

    def build(self, shown: CaseShown) -> RenderableType:
        overrides = shown.view.overrides
        parts: list[RenderableType] = []
        for pending in _pending_of(shown, OVERRIDE_ACTIONS):
            state, tone = pending_state(pending)
            summary = pending_summary(pending, shown.people)
            parts += [self.line((f"⧗ {state}", tone), "  ", summary), Text()]
        if overrides is None:
            return Group(*parts, self.notice(not_fetched("Overrides", shown)))
        if not overrides:
            return Group(*parts, self.notice("No override requests."))
        ordered = sorted(overrides, key=lambda o: o.created_at, reverse=True)
        ordered.sort(key=lambda o: o.status is not OverrideStatus.PENDING)
        for override in ordered:
            parts += [self._head(override), Padding(self._body(override, shown), INDENT)]
        return Group(*parts)

    def _head(self, override: Override) -> Text:
        proposed = override.proposed_decision
        tone = "good" if proposed is ProposedDecision.APPROVE else "bad"
        return self.line(
            (f"◆ {label(override.status)}", OVERRIDE_TONES[override.status]),
            "  proposes ",
            (label(proposed), tone),
        )

    def _body(self, override: Override, shown: CaseShown) -> Table:
        people, now = shown.people, shown.now
        reviewers = ", ".join(people.name(r) for r in override.reviewer_ids) or "any reviewer"
        requested = f"{people.name(override.creator_id)}, {when(override.created_at, now)}"
        rows = [
            ("Reason", self.text(override.reason)),
            ("Requested by", self.text(requested)),
            ("Reviewers", self.text(reviewers)),
        ]
        if override.status is OverrideStatus.PENDING:
            rows.append(("Decision", self.text("awaiting a reviewer", "muted")))
        else:
            by = people.name(override.decided_by_id, nobody="its creator")
            decided = f"{label(override.status)} by {by}, {when(override.decided_at, now)}"
            rows.append(("Decision", self.text(decided, OVERRIDE_TONES[override.status])))
            comment = override.decision_comment
            rows.append(("Comment", self.text(comment) if comment else self.text(NONE, "muted")))
        return self.fields(rows, label_width=14)


class CaseActivity(CaseSection):
    """The permanent action log, newest first: when, who, what, at which revision."""

    def build(self, shown: CaseShown) -> RenderableType:
        actions = shown.view.actions
        if actions is None:
            return self.notice(not_fetched("Activity", shown))
        if not actions:
            return self.notice("No activity yet.")
        table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, expand=True)
        table.add_column(self.text("When", "label"), no_wrap=True)
        table.add_column(self.text("Who", "label"), no_wrap=True, max_width=28)
        table.add_column(self.text("Action", "label"), no_wrap=True)
        table.add_column(self.text("Rev", "label"), no_wrap=True, justify="right")
        table.add_column(self.text("Details", "label"), ratio=1, no_wrap=True, overflow="ellipsis")
        entries = sorted(actions, key=lambda a: (a.case_revision, a.created_at), reverse=True)
        for entry in entries:
            table.add_row(
                self.text(when(entry.created_at, shown.now), "muted"),
                self.text(shown.people.name(entry.actor_id, nobody="system")),
                self.text(label(entry.type), "accent"),
                self.text(str(entry.case_revision)),
                self.text(payload_summary(entry, shown.people)),
            )
        return table
