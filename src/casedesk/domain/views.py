"""The queue's views: My cases, Unassigned, SLA at risk, … — each a predicate over queue rows."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from casedesk.domain.enums import CaseStatus, SlaStatus
from casedesk.domain.query import QueryContext

ViewTest = Callable[[Any, QueryContext], bool]


def _open(row: Any) -> bool:
    return bool(row.status != CaseStatus.CLOSED)


@dataclass(frozen=True)
class View:
    """One tab of the queue, chosen with its number key."""

    key: str
    """The id used in the config (`start_view`) and on the command line."""
    label: str
    test: ViewTest


VIEWS: tuple[View, ...] = (
    View("mine", "My cases", lambda row, ctx: _open(row) and row.assignee_id == ctx.me),
    View("unassigned", "Unassigned", lambda row, _: _open(row) and row.assignee_id is None),
    View(
        "sla_at_risk",
        "SLA at risk",
        lambda row, _: _open(row) and row.sla_status == SlaStatus.AT_RISK,
    ),
    View(
        "sla_breached",
        "SLA breached",
        lambda row, _: _open(row) and row.sla_status == SlaStatus.BREACHED,
    ),
    View("escalated", "Escalated", lambda row, _: _open(row) and row.open_escalations_count > 0),
    View(
        "override_pending",
        "Override pending",
        lambda row, _: _open(row) and row.pending_override_id is not None,
    ),
    View("all_open", "All open", lambda row, _: _open(row)),
    View("closed", "Closed", lambda row, _: row.status == CaseStatus.CLOSED),
)
"""In the order of their keys `1`…`8`."""

VIEWS_BY_KEY: dict[str, View] = {view.key: view for view in VIEWS}
