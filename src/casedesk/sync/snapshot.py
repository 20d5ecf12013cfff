"""`QueueSnapshot`: the cached queue as the console shows it, ready to filter per keystroke.

Built once after a load, a sync or the minute tick (SLA states age with the
clock), kept sorted, so a keystroke only runs the filter's predicate over
the rows: no parsing, no sorting, no I/O.
"""

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from casedesk.domain.query import Query, QueryContext, Term, fold
from casedesk.domain.sla import at_risk_from, sla_status
from casedesk.domain.views import VIEWS, VIEWS_BY_KEY
from casedesk.store.cached import QueueRow

_FAR_FUTURE = datetime.max.replace(tzinfo=None)

TermKeys = tuple[tuple[Hashable, ...], ...]
"""A query's terms, as far as what they test."""

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
    _views: dict[str, list[QueueRow]] = field(init=False, repr=False, compare=False)
    """The rows of each view, kept once asked for (a view switch filters nothing)."""
    _last: dict[str, tuple[TermKeys, list[QueueRow]]] = field(init=False, repr=False, compare=False)
    """Per view, the terms of the last query selected and its rows (see `select`)."""

    def __post_init__(self) -> None:
        # Not init fields: `replace()` (a new context) starts with empty memos of its own.
        object.__setattr__(self, "_views", {})
        object.__setattr__(self, "_last", {})

    def view_rows(self, view: str | None) -> list[QueueRow]:
        """The rows of `view` (every row for `None`), in sort order."""
        if view is None:
            return self.rows
        rows = self._views.get(view)
        if rows is None:
            test, context = VIEWS_BY_KEY[view].test, self.context
            rows = self._views[view] = [row for row in self.rows if test(row, context)]
        return rows

    def select(self, query: Query | None, view: str | None) -> list[QueueRow]:
        """The rows of `view` that pass `query`, in sort order.

        A keystroke that only narrows the last query of the view (a term added, or the
        last free-text term lengthened) filters that query's rows instead of the view's.
        """
        rows = self.view_rows(view)
        if query is None or query.is_empty:
            return rows
        key = view or ""
        terms = tuple(_term_key(term) for term in query.terms)
        last = self._last.get(key)
        if last is not None and _narrows(last[0], terms):
            rows = last[1]
            if last[0] == terms:
                return rows
        found = list(filter(query.predicate, rows))
        self._last[key] = (terms, found)
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


def _term_key(term: Term) -> tuple[Hashable, ...]:
    """What a term tests (its position in the text aside)."""
    return (term.field, term.op, term.values, term.negated)


def _narrows(
    before: tuple[tuple[Hashable, ...], ...], now: tuple[tuple[Hashable, ...], ...]
) -> bool:
    """Whether every row passing the terms `now` passes the terms `before`.

    Terms are and-ed: the same terms plus one more narrow; so does a last free-text term
    (not negated) that contains the one before, as a substring test of a longer needle
    passes fewer rows.
    """
    if now[: len(before)] == before and len(now) - len(before) in (0, 1):
        return True
    if len(now) != len(before) or not now or now[:-1] != before[:-1]:
        return False
    (field_now, _, values_now, negated_now), (field_before, _, values_before, negated_before) = (
        now[-1],
        before[-1],
    )
    if field_now is not None or field_before is not None or negated_now or negated_before:
        return False
    assert isinstance(values_now, tuple) and isinstance(values_before, tuple)
    return fold(str(values_before[0])) in fold(str(values_now[0]))


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
        if current != row.sla_status:
            # `_replace` rebuilds the tuple through keywords: 3x slower, over every row.
            row = tuple.__new__(QueueRow, (*row[:_SLA_AT], current, *row[_SLA_AT + 1 :]))
        current_rows.append(row)
    return current_rows


_SLA_AT = QueueRow._fields.index("sla_status")


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
