"""`CaseHeader`: the key facts of a case above its tabs, and where they come from."""

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from casedesk.domain.enums import ActionType, CaseStatus, Decision, RiskTier, SlaStatus
from casedesk.domain.sla import countdown
from casedesk.tui.widgets.case_format import (
    NONE,
    CaseShown,
    label,
    pending_state,
    pending_summary,
    sync_state,
    when,
)
from casedesk.tui.widgets.case_section import CaseSection

SLA_TONES = {
    SlaStatus.ON_TRACK: "good",
    SlaStatus.AT_RISK: "warn",
    SlaStatus.BREACHED: "bad",
    SlaStatus.PAUSED: "muted",
}
RISK_TONES = {RiskTier.LOW: "good", RiskTier.MEDIUM: "warn", RiskTier.HIGH: "bad"}
DECISION_TONES = {Decision.APPROVE: "good", Decision.REJECT: "bad", Decision.NONE: "muted"}
HEADER_ACTIONS = frozenset(
    {
        ActionType.CLOSE,
        ActionType.ASSIGN,
        ActionType.QUERY,
        ActionType.RESUME,
        ActionType.REOPEN,
    }
)
"""Pending actions that change the key facts (status, decision, assignee): named here."""
STATUS_TONES = {
    CaseStatus.CLOSED: "muted",
    CaseStatus.QUERYING: "accent",
    CaseStatus.DRAFT: "muted",
}


class CaseHeader(CaseSection):
    """Reference, name, status, decision, risk, SLA, people, revision and sync state."""

    DEFAULT_CSS = """
    CaseHeader {
        height: auto;
    }
    """

    def build(self, shown: CaseShown) -> RenderableType:
        case = shown.case
        title = Table.grid(expand=True, padding=(0, 2))
        title.add_column(ratio=1)
        title.add_column(no_wrap=True, justify="right")
        name = self.line((case.reference, "accent"), "  ")
        name.append_text(self.text(case.name, "strong"))
        sync, sync_tone = sync_state(shown)
        where = self.line(
            (sync, sync_tone), (f"   case {shown.position} of {shown.total}", "muted")
        )
        title.add_row(name, where)

        facts = Table.grid(expand=True, padding=(0, 1))
        for _ in range(4):
            facts.add_column(no_wrap=True, width=9)
            facts.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        facts.add_row(
            *self._pair("Status", self.text(label(case.status), STATUS_TONES.get(case.status, ""))),
            *self._pair("Risk", self._risk(shown)),
            *self._pair("Assignee", self._person(case.assignee.name if case.assignee else None)),
            *self._pair("Account", self._person(case.account.name if case.account else None)),
        )
        facts.add_row(
            *self._pair("Decision", self._decision(shown)),
            *self._pair("SLA", self._sla(shown)),
            *self._pair("Queue", self.text(case.queue.name)),
            *self._pair("Reporter", self._person(case.reporter.name if case.reporter else None)),
        )
        facts.add_row(
            *self._pair("Revision", self.text(str(case.revision))),
            *self._pair("Updated", self.text(when(case.updated_at, shown.now))),
            *self._pair("Type", self.text(case.type)),
            *self._pair("Flags", self._flags(shown)),
        )
        pending = self._pending(shown)
        return Group(title, facts) if pending is None else Group(title, facts, pending)

    def _pending(self, shown: CaseShown) -> Text | None:
        """`Pending  close · decision: approve (pending)  · 2 more in the tabs`."""
        if not shown.pending:
            return None
        line = self.text("Pending  ", "label")
        named = [p for p in shown.pending if p.action.type in HEADER_ACTIONS]
        for index, pending in enumerate(named):
            state, tone = pending_state(pending)
            if index:
                line.append("   ")
            line.append_text(
                self.line(pending_summary(pending, shown.people), (f" ({state})", tone))
            )
        others = [p for p in shown.pending if p.action.type not in HEADER_ACTIONS]
        if others:
            more = f"{len(others)} {'more ' if named else ''}in the tabs"
            line.append_text(self.text(("   " if named else "") + more, "warn"))
            parked = sum(1 for p in others if p.parked)
            if parked:
                line.append_text(self.text(f", {parked} parked (E to correct)", "bad"))
        return line

    def _pair(self, name: str, value: Text) -> tuple[Text, Text]:
        return self.text(name, "label"), value

    def _person(self, name: str | None) -> Text:
        return self.text(NONE, "muted") if name is None else self.text(name)

    def _risk(self, shown: CaseShown) -> Text:
        case = shown.case
        return self.line((label(case.risk_tier), RISK_TONES[case.risk_tier]), f" {case.risk_score}")

    def _decision(self, shown: CaseShown) -> Text:
        decision = shown.case.decision
        if decision is None:
            return self.text("none yet", "muted")
        return self.text(label(decision), DECISION_TONES[decision])

    def _sla(self, shown: CaseShown) -> Text:
        case = shown.case
        status = shown.sla
        tone = SLA_TONES[status]
        if case.sla_deadline is None:
            return self.text(f"{NONE} {label(status)}", tone)
        if status is SlaStatus.PAUSED:
            return self.text("paused (querying)", tone)
        if case.status is CaseStatus.CLOSED and case.closed_at is not None:
            if status is SlaStatus.BREACHED:
                return self.text(f"missed by {countdown(case.closed_at, case.sla_deadline)}", tone)
            spare = countdown(case.sla_deadline, case.closed_at)
            return self.text(f"met, {spare} to spare", tone)
        return self.line(
            (countdown(case.sla_deadline, shown.now), tone), (f" {label(status)}", tone)
        )

    def _flags(self, shown: CaseShown) -> Text:
        summary = shown.case.summary
        parts: list[tuple[str, str] | str] = []
        if summary.open_escalations_count:
            count = summary.open_escalations_count
            parts.append((f"▲ {count} open escalation{'s' if count > 1 else ''}", "warn"))
        if summary.pending_override_id is not None:
            parts.append(("◆ override pending", "accent"))
        if not parts:
            parts.append((NONE, "muted"))
        joined: list[tuple[str, str] | str] = []
        for index, part in enumerate(parts):
            if index:
                joined.append("  ")
            joined.append(part)
        return self.line(*joined)
