"""Plain-text renderings for the terminal commands (`casedesk cases`, `case`, `outbox`).

Text from the API was sanitised at ingestion; here it is only laid out, never
interpreted (no markup library touches it).
"""

from collections.abc import Iterable
from datetime import datetime

from casedesk.domain.sla import countdown
from casedesk.store.cached import CaseDetails, QueueRow
from casedesk.store.outbox_item import OutboxItem


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def case_lines(rows: Iterable[QueueRow], now: datetime) -> list[str]:
    lines = [f"{'REFERENCE':<11} {'STATUS':<11} {'RISK':<9} {'SLA':>9}  {'ASSIGNEE':<18} NAME"]
    for row in rows:
        risk = f"{row.risk_tier.value} {row.risk_score}"
        lines.append(
            f"{row.reference:<11} {row.status.value:<11} {risk:<9} "
            f"{countdown(row.sla_deadline, now):>9}  {_clip(row.assignee_name or '—', 18):<18} "
            f"{_clip(row.name, 60)}"
        )
    return lines


def case_detail_lines(details: CaseDetails, now: datetime) -> list[str]:
    case = details.case
    lines = [
        f"{case.reference}  {case.name}",
        f"status {case.status.value}  decision {case.decision.value if case.decision else '—'}  "
        f"risk {case.risk_tier.value} {case.risk_score}  "
        f"SLA {case.sla_status.value} {countdown(case.sla_deadline, now)}",
        f"assignee {case.assignee.name if case.assignee else '—'}  queue {case.queue.name}  "
        f"revision {case.revision}",
    ]
    if not details.fetched:
        lines.append("chat, escalations, overrides and activity were never fetched for this case")
        return lines
    lines.append("")
    lines.append(f"chat ({len(details.messages or [])})")
    for message in details.messages or []:
        body = message.body.replace("\n", "\n" + " " * 4)
        lines.append(f"  {message.created_at:%Y-%m-%d %H:%M} {message.author_name}: {body}")
    active = [e for e in details.escalations or [] if not e.is_completed]
    lines.append(
        f"escalations: {len(active)} active, {len(details.escalations or []) - len(active)} done"
    )
    for escalation in active:
        lines.append(f"  {escalation.id}  {escalation.title}")
    for override in details.overrides or []:
        decision = override.proposed_decision.value
        lines.append(f"override {override.status.value}: {decision} — {override.reason}")
    lines.append(f"activity: {len(details.actions or [])} entries")
    return lines


def outbox_lines(items: Iterable[OutboxItem]) -> list[str]:
    lines = [f"{'ID':<36}  {'CASE':<11} {'ACTION':<20} {'STATE':<9} {'TRIES':>5}  LAST ERROR"]
    for item in items:
        state = "pending" if item.pending else item.state.value
        if item.park_reason is not None:
            state = f"parked ({item.park_reason.value})"
        error = item.last_error.message if item.last_error else ""
        lines.append(
            f"{item.id!s:<36}  {item.case_reference or 'new case':<11} {item.type:<20} "
            f"{state:<9} {item.attempts:>5}  {_clip(error, 80)}"
        )
    return lines
