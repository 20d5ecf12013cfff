"""`QueueSnapshot`: the cached queue as the console shows it, ready to filter per keystroke.

Built once after a load, a sync or the minute tick (SLA states age with the
clock), kept sorted, so a keystroke only runs the filter's predicate over
the rows: no parsing, no sorting, no I/O.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from casedesk.domain.query import Query, QueryContext, fold
from casedesk.domain.sla import at_risk_from, sla_status
from casedesk.domain.views import VIEWS, VIEWS_BY_KEY
from casedesk.store.cached import QueueRow

_FAR_FUTURE = datetime.max.replace(tzinfo=None)

SORT_KEYS: dict[str, Callable[[QueueRow], Any]] = {
    "reference": lambda row: row.reference,
    "name": lambda row: fold(row.name),
    "status": lambda row: row.status.value,
    "risk": lambda row: row.risk_score,
    "sla": lambda row: row.sla_deadline.timestamp() if row.sla_deadline else float("inf"),
    "assignee": lambda row: fold(row.assignee_name or "\uffff"),
    "queue": lambda row: fold(row.queue_name),
    "updated": lambda row: row.updated_at.timestamp(),
}
"""How each sortable column orders rows (ties keep reference order)."""


@dataclass(frozen=True)
class QueueSnapshot:
    rows: list[QueueRow]
    """Every cached case, SLA state as of `taken_at`, in the snapshot's sort order."""
    context: QueryContext
    counts: dict[str, int]
    """Cases per view key (`mine`, `unassigned`, …)."""
    taken_at: datetime
    sort: str = "reference"
    reverse: bool = False

    def select(self, query: Query | None, view: str | None) -> list[QueueRow]:
        """The rows of `view` that pass `query`, in sort order."""
        test = VIEWS_BY_KEY[view].test if view is not None else None
        context = self.context
        if test is None and (query is None or query.is_empty):
            return self.rows
        matches = query.matches if query is not None and not query.is_empty else None
        found: list[QueueRow] = []
        for row in self.rows:
            if test is not None and not test(row, context):
                continue
            if matches is not None and not matches(row):
                continue
            found.append(row)
        return found

    def sorted_by(self, sort: str, reverse: bool) -> "QueueSnapshot":
        rows = sorted(self.rows, key=SORT_KEYS["reference"])
        rows.sort(key=SORT_KEYS[sort], reverse=reverse)
        return QueueSnapshot(
            rows=rows,
            context=self.context,
            counts=self.counts,
            taken_at=self.taken_at,
            sort=sort,
            reverse=reverse,
        )

    def index_of(self, case_id: UUID) -> int | None:
        for index, row in enumerate(self.rows):
            if row.id == case_id:
                return index
        return None


def with_current_sla(
    rows: Iterable[QueueRow], now: datetime, sla_hours: dict[UUID, float]
) -> list[QueueRow]:
    """Rows whose SLA state is recomputed for `now` (a cached state goes stale with time)."""
    current_rows: list[QueueRow] = []
    for row in rows:
        hours = sla_hours.get(row.queue_id)
        deadline = row.sla_deadline
        current = sla_status(
            status=row.status,
            deadline=deadline,
            at_risk_at=None if deadline is None or hours is None else at_risk_from(deadline, hours),
            now=now,
            closed_at=row.closed_at,
        )
        current_rows.append(row if current == row.sla_status else row._replace(sla_status=current))
    return current_rows


def take_snapshot(
    rows: Iterable[QueueRow],
    *,
    context: QueryContext,
    now: datetime,
    sla_hours: dict[UUID, float],
    sort: str = "reference",
    reverse: bool = False,
) -> QueueSnapshot:
    current = with_current_sla(rows, now, sla_hours)
    counts = {view.key: sum(1 for row in current if view.test(row, context)) for view in VIEWS}
    snapshot = QueueSnapshot(rows=current, context=context, counts=counts, taken_at=now)
    return snapshot.sorted_by(sort, reverse)
