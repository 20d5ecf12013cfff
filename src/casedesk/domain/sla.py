"""SLA status of a case: derived from its deadline, never stored."""

from datetime import datetime, timedelta

from casedesk.domain.enums import CaseStatus, SlaStatus

AT_RISK_FRACTION = 0.25
"""A case is at risk once less than this share of its queue's SLA time is left."""


def at_risk_from(deadline: datetime, sla_hours: float) -> datetime:
    """The instant from which a case with this deadline counts as at risk."""
    return deadline - timedelta(hours=sla_hours * AT_RISK_FRACTION)


def sla_status(
    *,
    status: CaseStatus,
    deadline: datetime | None,
    at_risk_at: datetime | None,
    now: datetime,
    closed_at: datetime | None = None,
) -> SlaStatus:
    """Where a case stands against its deadline at `now`."""
    if status is CaseStatus.QUERYING:
        return SlaStatus.PAUSED
    if deadline is None:
        return SlaStatus.ON_TRACK
    moment = closed_at if status is CaseStatus.CLOSED and closed_at is not None else now
    if moment >= deadline:
        return SlaStatus.BREACHED
    if status is not CaseStatus.CLOSED and at_risk_at is not None and moment >= at_risk_at:
        return SlaStatus.AT_RISK
    return SlaStatus.ON_TRACK


def countdown(deadline: datetime | None, now: datetime) -> str:
    """`3h 12m`, `-2d 4h`: time left until (or past) a deadline, two units at most."""
    if deadline is None:
        return "—"
    seconds = int((deadline - now).total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m"
