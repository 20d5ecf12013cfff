"""The queue's first screenful, kept beside the cache so that a start paints it at once.

A cold start used to import the store's models, load the whole queue index and
sort it before the first frame: 0.3 s over a bare Textual app at 10,000 cases,
0.9 s at 50,000. Instead the console keeps a head in the data directory (see
`casedesk.store.head_file`) — the first rows of the view it starts on, the
views' counts and the status bar's figures, as of its last snapshot — and
paints that while the cache opens. The real rows replace it within a second,
the cursor staying on its case.

The file is ours and disposable: a missing, damaged or foreign-format one is
ignored (the queue then paints once the cache is open). It is read before
pydantic is imported — its first model would cost a third of the whole start —
so `parse_head` checks each value's type by hand; every row is a flat array of
strings, numbers, booleans and nulls. Nothing in it is secret: no keys, only
what the queue shows.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from casedesk.domain.enums import CaseStatus, RiskTier, SlaStatus
from casedesk.domain.sla import at_risk_from, sla_status

HEAD_ROWS = 200
"""More than any terminal shows at once: scrolling further waits for the cache."""
FORMAT = 1


class HeadRow(NamedTuple):
    """A queue row as the table draws it (the fields `CaseTable` reads)."""

    id: UUID
    reference: str
    name: str
    status: CaseStatus
    risk_tier: RiskTier
    risk_score: int
    sla_deadline: datetime | None
    sla_status: SlaStatus
    assignee_name: str | None
    queue_name: str
    updated_at: datetime
    open_escalations_count: int
    pending_override_id: UUID | None


@dataclass(frozen=True)
class HeadStatus:
    """What the status bar said when the head was written."""

    profile: str
    user: str
    last_sync: datetime | None
    pending: int
    parked: int


@dataclass(frozen=True)
class QueueHead:
    view: str
    rows: tuple[HeadRow, ...]
    counts: Mapping[str, int]
    unread: frozenset[UUID]
    pending: frozenset[UUID]
    status: HeadStatus


class HeadUnreadable(ValueError):
    """The file is not a head this version wrote."""


# -- reading --------------------------------------------------------------------------


def parse_head(raw: bytes, *, now: datetime) -> QueueHead:
    """`raw` checked value by value, SLA states as of `now`; `HeadUnreadable` says what is
    wrong with it."""
    try:
        return _parse(raw, now)
    except HeadUnreadable:
        raise
    except (ValueError, TypeError) as error:  # not JSON, not a UUID, not a time, an enum…
        raise HeadUnreadable(str(error)) from None


def _parse(raw: bytes, now: datetime) -> QueueHead:
    document = json.loads(raw)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise HeadUnreadable("not a queue head of this version")
    view = _typed(document, "view", str)
    counts = _typed(document, "counts", dict)
    if not all(isinstance(k, str) and _is_int(v) for k, v in counts.items()):
        raise HeadUnreadable("counts: not view → number")
    status = _typed(document, "status", dict)
    rows, unread, pending = [], set(), set()
    for number, item in enumerate(_typed(document, "rows", list)):
        row, is_unread, is_pending = _row(item, now, number)
        rows.append(row)
        if is_unread:
            unread.add(row.id)
        if is_pending:
            pending.add(row.id)
    return QueueHead(
        view=view,
        rows=tuple(rows),
        counts=dict(counts),
        unread=frozenset(unread),
        pending=frozenset(pending),
        status=HeadStatus(
            profile=_typed(status, "profile", str),
            user=_typed(status, "user", str),
            last_sync=_moment(status.get("last_sync"), "status.last_sync"),
            pending=_count(status.get("pending"), "status.pending"),
            parked=_count(status.get("parked"), "status.parked"),
        ),
    )


_ROW_LENGTH = 16


def _row(item: Any, now: datetime, number: int) -> tuple[HeadRow, bool, bool]:
    where = f"rows[{number}]"
    if not isinstance(item, list) or len(item) != _ROW_LENGTH:
        raise HeadUnreadable(f"{where}: not an array of {_ROW_LENGTH}")
    (
        case_id,
        reference,
        name,
        status,
        risk_tier,
        risk_score,
        deadline,
        at_risk_at,
        closed_at,
        assignee_name,
        queue_name,
        updated_at,
        escalations,
        override_id,
        unread,
        pending,
    ) = item
    texts = (reference, name, queue_name)
    if not all(isinstance(text, str) for text in texts) or not isinstance(
        assignee_name, str | None
    ):
        raise HeadUnreadable(f"{where}: a text is not a string")
    if not (_is_int(risk_score) and _is_int(escalations)):
        raise HeadUnreadable(f"{where}: a count is not a number")
    if not (isinstance(unread, bool) and isinstance(pending, bool)):
        raise HeadUnreadable(f"{where}: a flag is not true/false")
    case_status = CaseStatus(status)
    sla_deadline = _moment(deadline, f"{where}.sla_deadline")
    row = HeadRow(
        id=UUID(_text(case_id, where)),
        reference=reference,
        name=name,
        status=case_status,
        risk_tier=RiskTier(risk_tier),
        risk_score=risk_score,
        sla_deadline=sla_deadline,
        # Recomputed: a head written yesterday would show yesterday's SLA states.
        sla_status=sla_status(
            status=case_status,
            deadline=sla_deadline,
            at_risk_at=_moment(at_risk_at, f"{where}.at_risk_at"),
            now=now,
            closed_at=_moment(closed_at, f"{where}.closed_at"),
        ),
        assignee_name=assignee_name,
        queue_name=queue_name,
        updated_at=_required_moment(updated_at, f"{where}.updated_at"),
        open_escalations_count=escalations,
        pending_override_id=None if override_id is None else UUID(_text(override_id, where)),
    )
    return row, unread, pending


def _typed(document: Mapping[str, Any], key: str, kind: type) -> Any:
    value = document.get(key)
    if not isinstance(value, kind):
        raise HeadUnreadable(f"{key}: not a {kind.__name__}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: Any, where: str) -> int:
    if not _is_int(value) or value < 0:
        raise HeadUnreadable(f"{where}: not a count")
    return int(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise HeadUnreadable(f"{where}: an id is not a string")
    return value


def _moment(value: Any, where: str) -> datetime | None:
    return None if value is None else _required_moment(value, where)


def _required_moment(value: Any, where: str) -> datetime:
    moment = datetime.fromisoformat(_text(value, where))
    if moment.tzinfo is None:
        raise HeadUnreadable(f"{where}: a time without its offset")
    return moment


# -- writing --------------------------------------------------------------------------


def head_bytes(
    rows: Iterable[Any],
    *,
    view: str,
    counts: Mapping[str, int],
    unread: Container[UUID],
    pending: Container[UUID],
    status: HeadStatus,
    sla_hours: Mapping[UUID, float],
) -> bytes:
    """The head of `view`: its first `HEAD_ROWS` of `rows` (queue rows, in reference order).

    `sla_hours` (per queue) tell when each row's SLA turns "at risk".
    """

    def at_risk_at(row: Any) -> datetime | None:
        hours = sla_hours.get(row.queue_id)
        deadline = row.sla_deadline
        return None if deadline is None or hours is None else at_risk_from(deadline, hours)

    first = [row for row, _ in zip(rows, range(HEAD_ROWS), strict=False)]
    document = {
        "format": FORMAT,
        "view": view,
        "counts": dict(counts),
        "status": {
            "profile": status.profile,
            "user": status.user,
            "last_sync": _iso(status.last_sync),
            "pending": status.pending,
            "parked": status.parked,
        },
        "rows": [
            [
                str(row.id),
                row.reference,
                row.name,
                row.status.value,
                row.risk_tier.value,
                row.risk_score,
                _iso(row.sla_deadline),
                _iso(at_risk_at(row)),
                _iso(row.closed_at),
                row.assignee_name,
                row.queue_name,
                _iso(row.updated_at),
                row.open_escalations_count,
                None if row.pending_override_id is None else str(row.pending_override_id),
                row.id in unread,
                row.id in pending,
            ]
            for row in first
        ],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
