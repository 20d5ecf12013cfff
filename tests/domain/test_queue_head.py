"""The queue head's format: what a start trusts from `queue-head.json`, and what it refuses."""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from casedesk.domain.enums import CaseStatus, RiskTier, SlaStatus
from casedesk.domain.queue_head import (
    HEAD_ROWS,
    HeadStatus,
    HeadUnreadable,
    head_bytes,
    parse_head,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
QUEUE = uuid4()


def row(number: int, **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "reference": f"CAS-{number:06d}",
        "name": f"Case {number}",
        "status": CaseStatus.OPEN,
        "risk_tier": RiskTier.HIGH,
        "risk_score": 80,
        "sla_deadline": NOW + timedelta(hours=40),
        "closed_at": None,
        "assignee_name": None,
        "queue_id": QUEUE,
        "queue_name": "KYB",
        "updated_at": NOW - timedelta(hours=1),
        "open_escalations_count": 0,
        "pending_override_id": None,
    }
    return SimpleNamespace(**(fields | changes))


def written(rows: list[Any], **changes: Any) -> bytes:
    arguments: dict[str, Any] = {
        "view": "all_open",
        "counts": {"all_open": len(rows)},
        "unread": {rows[0].id} if rows else set(),
        "pending": set(),
        "status": HeadStatus(profile="p", user="Ana", last_sync=NOW, pending=1, parked=0),
        "sla_hours": {QUEUE: 48.0},
    }
    return head_bytes(rows, **(arguments | changes))


def test_a_head_reads_back_as_written_with_flags_and_status() -> None:
    rows = [row(n, assignee_name="[bold]Eve[/bold]" if n == 1 else None) for n in range(3)]
    head = parse_head(written(rows), now=NOW)
    assert [r.id for r in head.rows] == [r.id for r in rows]
    assert head.rows[1].assignee_name == "[bold]Eve[/bold]"  # text, never markup
    assert head.unread == {rows[0].id} and not head.pending
    assert head.status.user == "Ana" and head.status.pending == 1
    assert head.counts == {"all_open": 3}


def test_only_the_first_rows_are_kept() -> None:
    rows = [row(n) for n in range(HEAD_ROWS + 50)]
    assert len(parse_head(written(rows), now=NOW).rows) == HEAD_ROWS


def test_sla_states_are_those_of_the_reading_time_not_the_writing_time() -> None:
    data = written([row(1)])  # 40 h before its deadline: on track when written
    assert parse_head(data, now=NOW).rows[0].sla_status is SlaStatus.ON_TRACK
    assert parse_head(data, now=NOW + timedelta(hours=35)).rows[0].sla_status is SlaStatus.AT_RISK
    assert parse_head(data, now=NOW + timedelta(days=3)).rows[0].sla_status is SlaStatus.BREACHED


def mangled(change: Any) -> bytes:
    document = json.loads(written([row(1)]))
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"", "Expecting value"),
        (b"[]", "not a queue head"),
        (mangled(lambda d: d.update(format=99)), "not a queue head"),
        (mangled(lambda d: d.update(view=3)), "view"),
        (mangled(lambda d: d["rows"][0].pop()), "rows[0]"),
        (mangled(lambda d: d["rows"][0].__setitem__(2, 7)), "rows[0]: a text"),
        (mangled(lambda d: d["rows"][0].__setitem__(0, "not-a-uuid")), "badly formed"),
        (mangled(lambda d: d["rows"][0].__setitem__(3, "nonsense")), "nonsense"),
        (mangled(lambda d: d["rows"][0].__setitem__(5, True)), "a count"),
        (mangled(lambda d: d["rows"][0].__setitem__(11, "2026-11-02T09:00:00")), "offset"),
        (mangled(lambda d: d["status"].__setitem__("pending", -1)), "status.pending"),
        (mangled(lambda d: d["counts"].__setitem__("all_open", "3")), "counts"),
    ],
)
def test_anything_but_a_head_of_this_version_is_refused_saying_what(raw: bytes, named: str) -> None:
    with pytest.raises(HeadUnreadable) as refused:
        parse_head(raw, now=NOW)
    assert named in str(refused.value)
